"""A 一件事 application of the demo's resident (a demo database only): the childbirth bundle,
submitted, so the timeline page shows tasks under way and tasks waiting for their inputs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tongban.cases.demo import filler, principals, scan
from tongban.cases.files import FileStore
from tongban.licenses.service import Registry
from tongban.onething import service as onething

BIRTH_ANSWERS = {"household_here": "yes", "parent_permit": "no", "mother_insured": "yes"}


def load_demo_bundles(session: Session, reg: Registry, store: FileStore) -> int:
    who = principals(session, ("citizen1",))
    if "citizen1" not in who:
        return 0
    resident = who["citizen1"]
    bc = onething.start(
        session,
        reg,
        resident,
        onething.StartRequest(bundle="birth", answers=BIRTH_ANSWERS, channel="app"),
    )
    form = onething.form_of(session, reg, bc)
    missing = {
        f["key"]: filler(f)
        for f in bc.plan["fields"]
        if f["provided_by"] is None and f["required"] and f["key"] not in form
    }
    onething.save_form(session, reg, resident, bc.id, missing)
    for m in onething.materials_view(session, bc, onething.tasks_of(session, bc)):
        if m.needs_upload:
            onething.upload(
                session, reg, store, resident, bc.id, m.identity, f"{m.name}.pdf", scan(m.name)
            )
    onething.submit(session, reg, resident, bc.id)
    return 1
