"""What the API and the pages show of bundles and bundle cases."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.cases import service as cases
from tongban.cases.models import Case
from tongban.cases.views import STATUS
from tongban.catalog.models import Department, Matter
from tongban.catalog.service import BundleRow
from tongban.identity.models import Enterprise
from tongban.identity.service import Principal
from tongban.licenses.service import Registry
from tongban.onething import service as onething
from tongban.onething.models import BundleCase
from tongban.portal.i18n import N_, Words, local

# Words the pages show, translated where they are looked up (in the page's language).
AUDIENCE = Words({"person": N_("个人"), "enterprise": N_("企业")})
VIA = Words(
    {
        "license": N_("免提交：电子证照库调取"),
        "department": N_("免提交：部门数据共享"),
        "upstream": N_("免提交：前序事项办结后自动获取"),
        "upload": N_("需上传"),
    }
)
BUNDLE_ACTIONS = Words(
    {
        "create": N_("创建"),
        "submit": N_("一次提交"),
        "task_refused": N_("有事项未能办理"),
        "complete": N_("全部办理完毕"),
        "deliver": N_("统一送达"),
    }
)


def english_names(
    db: Session, matters: Iterable[str] = (), departments: Iterable[str] = ()
) -> Callable[[str | None], str]:
    """How a page names these matters (by code), their departments and these departments (by
    key) in its language:
    called while the page renders, in English it gives the catalog's English name of the one
    so named, and any other name as it is (a plan keeps the names, not their English)."""
    english: dict[str, str] = {}
    codes, keys = sorted(set(matters)), sorted(set(departments))
    if codes:
        found = db.scalars(select(Matter).where(Matter.code.in_(codes))).all()
        english.update({m.name: m.name_en for m in found if m.name_en})
        # and the departments that handle them
        english.update({m.department.name: m.department.name_en for m in found})
    if keys:
        named = select(Department.name, Department.name_en).where(Department.key.in_(keys))
        english.update({str(name): str(en) for name, en in db.execute(named) if en})

    def name(chinese: str | None) -> str:
        return local({"name": chinese or "", "name_en": english.get(chinese or "")})

    return name


def bundle_summary(row: BundleRow) -> dict[str, Any]:
    b = row.entry
    return {
        "code": b.code,
        "name": b.name,
        "name_en": b.name_en,
        "audience": b.audience.value,
        "lead_department": b.lead_department,
        "description": b.description,
        "matters": len(b.matters),
        "questions": [
            {
                "key": q.key,
                "text": q.text,
                "text_en": q.text_en,
                "help": q.help,
                "options": [o.model_dump() for o in q.options],
            }
            for q in b.questions
        ],
        "version": row.version,
        "assumptions": b.assumptions,
    }


def bundle_case_out(
    db: Session, reg: Registry, principal: Principal, bc: BundleCase
) -> dict[str, Any]:
    """A bundle case: its one status line, its tasks (each a case of its own), the merged
    materials; the merged form only for the applicant (staff read a task's form in the task,
    which is audited)."""
    tasks = onething.tasks_of(db, bc)
    roles = onething.roles_on(db, principal, bc, tasks)
    by_code = {t.matter_code: t for t in tasks}
    applicant = cases.APPLICANT in roles
    # Staff see the bundle's shape and progress; what the applicant answered, handed in and
    # got from other departments stays with the tasks they may open themselves.
    mine = {t.id for t in tasks if applicant or cases.roles_on(db, principal, t)}
    return {
        "id": bc.id,
        "number": bc.number,
        "bundle": bc.bundle_code,
        "bundle_name": bc.bundle_name,
        "kind": bc.kind,
        "license": bc.license_identifier if applicant or cases.WINDOW in roles else None,
        "amends": bc.amends,
        "uscc": _uscc(db, bc.enterprise_id) if applicant else None,
        "carried": bc.carried if applicant else None,
        "status": bc.status,
        "status_line": onething.status_line(bc, tasks),
        "answers": bc.answers if applicant else None,
        "hall": bc.hall_key,
        "days": bc.plan["days"],
        "critical_path": bc.plan["critical_path"],
        "delivery": {
            "method": bc.delivery_method,
            "label": cases.DELIVERY_METHODS[bc.delivery_method],
        },
        "submitted_at": bc.submitted_at.isoformat() if bc.submitted_at else None,
        "completed_at": bc.completed_at.isoformat() if bc.completed_at else None,
        "delivered_at": bc.delivered_at.isoformat() if bc.delivered_at else None,
        "tasks": [_task_out(t, by_code.get(t["code"]), mine) for t in bc.plan["tasks"]],
        "materials": (
            [m.__dict__ for m in onething.materials_view(db, bc, tasks)] if applicant else None
        ),
        "fields": bc.plan["fields"] if applicant else None,
        "form": onething.form_of(db, reg, bc) if applicant else None,
        "history": [
            {"at": e.at.isoformat(), "action": e.action, "status": e.status, "reason": e.reason}
            for e in onething.events_of(db, bc)
        ],
    }


def _uscc(db: Session, enterprise_id: int | None) -> str | None:
    enterprise = db.get(Enterprise, enterprise_id) if enterprise_id else None
    return enterprise.uscc if enterprise else None


def _task_out(t: dict[str, Any], case: Case | None, mine: set[int]) -> dict[str, Any]:
    """A task; its license only to whoever may open the task itself."""
    return {
        **{k: t[k] for k in ("code", "name", "department_name", "days", "needs", "stage")},
        "case": case.id if case else None,
        "status": case.status if case else None,
        "due_date": case.due_date.isoformat() if case and case.due_date else None,
        "license": case.license_identifier if case and case.id in mine else None,
        "yours": bool(case and case.id in mine),
    }


def task_status(status: str | None) -> tuple[str, str]:
    return STATUS.get(status or "", (status or "", ""))
