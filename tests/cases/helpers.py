"""The applicant's and staff's steps as the portal takes them, for the case tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.idcode.conftest import World
from tongban.catalog.models import Department, Matter

SCHOOL = "20P010000001"


def filled(world: World, code: str, user: str, **params: str) -> dict[str, Any]:
    """The form as the applicant would send it: prefilled values, the rest made up validly."""
    form = world.client.get(f"/api/v1/matters/{code}/form", params=params, headers=world.auth(user))
    assert form.status_code == 200, form.text
    values = {}
    for f in form.json()["fields"]:
        if f["value"] is not None:
            values[f["key"]] = f["value"]
        elif f["required"]:
            values[f["key"]] = _made_up(f)
    return values


def _made_up(field: dict[str, Any]) -> Any:
    kind = field["type"]
    return {
        "enum": (field["options"] or ["-"])[0],
        "date": "2026-01-05",
        "integer": 1,
        "decimal": "1",
        "boolean": True,
        "phone": "13800138000",
        "postal_code": "200000",
        "id_number": "310101194803124297",
        "uscc": "91310000MA1FL8TQ36",
    }.get(kind, "测试填写")


PDF = b"%PDF-1.4\n% a scanned material\n"


def apply(
    world: World, code: str, user: str = "citizen1", key: str | None = None, **body: Any
) -> Any:
    """As the portal does it: save a draft, upload what must be uploaded, submit. With
    `submit=False` only the draft."""
    params = {k: str(body[k]) for k in ("uscc", "proxy") if body.get(k)}
    payload = {"matter": code, "form": filled(world, code, user, **params), **body, "submit": False}
    headers = world.auth(user) | ({"idempotency-key": key} if key else {})
    r = world.client.post("/api/v1/cases", json=payload, headers=headers)
    if r.status_code != 201 or body.get("submit") is False or r.json()["status"] != "draft":
        return r
    case = r.json()
    upload_missing(world, case, user)
    return move(world, case["id"], user, "submit")


def upload_missing(world: World, case: dict[str, Any], user: str) -> None:
    for key in case["missing_materials"]:
        up = world.client.post(
            f"/api/v1/cases/{case['id']}/materials/{key}",
            files={"file": (f"{key}.pdf", PDF + key.encode(), "application/pdf")},
            headers=world.auth(user),
        )
        assert up.status_code == 201, up.text


def move(world: World, case_id: int, user: str, action: str, reason: str | None = None) -> Any:
    return world.client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={"action": action, "reason": reason},
        headers=world.auth(user),
    )


def reviewer_of(world: World, code: str) -> str:
    with world.session() as session:
        key = session.scalar(
            select(Department.key)
            .join(Matter, Matter.department_id == Department.id)
            .where(Matter.code == code)
        )
    return f"rev_{key}"
