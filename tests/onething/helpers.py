"""A bundle case as the portal takes it: start, fill the merged form, upload, submit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.cases.helpers import PDF, _made_up, move, reviewer_of
from tests.idcode.conftest import World
from tongban.identity.models import Account
from tongban.identity.schemas import Role
from tongban.identity.service import create_account


def start(
    world: World, bundle: str, answers: dict[str, str], user: str = "citizen1", **body: Any
) -> Any:
    key = body.pop("key", None)
    headers = world.auth(user) | ({"idempotency-key": key} if key else {})
    return world.client.post(
        "/api/v1/bundle-cases", json={"bundle": bundle, "answers": answers, **body}, headers=headers
    )


def fill(world: World, bc: dict[str, Any], user: str = "citizen1") -> dict[str, Any]:
    """Every asked field the prefill left empty, made up validly."""
    values = {
        f["key"]: _made_up(f)
        for f in bc["fields"]
        if f["provided_by"] is None and f["key"] not in bc["form"]
    }
    r = world.client.patch(
        f"/api/v1/bundle-cases/{bc['id']}", json={"form": values}, headers=world.auth(user)
    )
    assert r.status_code == 200, r.text
    return r.json()


def upload_all(world: World, bc: dict[str, Any], user: str = "citizen1") -> dict[str, Any]:
    for m in bc["materials"]:
        if m["needs_upload"]:
            r = world.client.post(
                f"/api/v1/bundle-cases/{bc['id']}/materials",
                data={"material": m["identity"]},
                files={"file": ("m.pdf", PDF + m["identity"].encode(), "application/pdf")},
                headers=world.auth(user),
            )
            assert r.status_code == 201, r.text
    return read(world, bc["id"], user)


def read(world: World, bc_id: int, user: str = "citizen1") -> dict[str, Any]:
    r = world.client.get(f"/api/v1/bundle-cases/{bc_id}", headers=world.auth(user))
    assert r.status_code == 200, r.text
    return r.json()


def submitted(
    world: World, bundle: str, answers: dict[str, str], user: str = "citizen1"
) -> dict[str, Any]:
    r = start(world, bundle, answers, user)
    assert r.status_code == 201, r.text
    bc = upload_all(world, fill(world, r.json(), user), user)
    done = world.client.post(f"/api/v1/bundle-cases/{bc['id']}/submit", headers=world.auth(user))
    assert done.status_code == 200, done.text
    return done.json()


def task(bc: dict[str, Any], code: str) -> dict[str, Any]:
    return next(t for t in bc["tasks"] if t["code"] == code)


def approve(world: World, case_id: int, code: str, result: dict[str, str] | None = None) -> Any:
    """A task through its department: accepted, reviewed, approved."""
    reviewer = reviewer_of(world, code)
    for action in ("accept", "start_review"):
        r = move(world, case_id, reviewer, action)
        assert r.status_code == 200, r.text
    return world.client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={"action": "approve", "result": result},
        headers=world.auth(reviewer),
    )


def deny(world: World, case_id: int, code: str, reason: str = "材料不符合要求") -> Any:
    reviewer = reviewer_of(world, code)
    for action in ("accept", "start_review"):
        assert move(world, case_id, reviewer, action).status_code == 200
    return move(world, case_id, reviewer, "deny", reason)


def window_at(world: World, hall: str) -> str:
    """A window account of this hall (made once)."""
    username = f"win_{hall}"[:60]
    with world.session() as session:
        if session.scalars(select(Account).where(Account.username == username)).first() is None:
            shared = session.scalars(select(Account.password_hash)).first()
            create_account(
                session,
                username,
                None,
                [(Role.WINDOW_STAFF, hall)],
                password_hash=shared,
                display_name="一件事窗口",
            )
            session.commit()
    return username
