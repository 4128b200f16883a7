"""Finished cases and counter visits to rate, and the calls the tests make."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from tests.cases.helpers import apply, move, reviewer_of
from tests.idcode.conftest import World
from tongban.cases.models import CounterVisit
from tongban.db import utcnow
from tongban.identity.models import Account

SCHOOL = "20P010000001"  # 义务教育阶段入学报名登记: a personal matter


def finished_case(world: World, user: str = "citizen1", code: str = SCHOOL) -> dict[str, Any]:
    """A case of `user`'s taken through to approval by its department's reviewer."""
    r = apply(world, code, user)
    assert r.status_code == 200, r.text
    case = r.json()
    reviewer = reviewer_of(world, code)
    for action in ("accept", "start_review", "approve"):
        step = move(world, case["id"], reviewer, action)
        assert step.status_code == 200, step.text
    return dict(step.json())


def visit(world: World, user: str = "citizen1", staff: str = "window1", hours: int = 2) -> int:
    """A counter visit of `user` at `staff`'s window (made directly: identifying at the window
    has tests of its own)."""
    with world.session() as session:
        person = session.scalar(select(Account.person_id).where(Account.username == user))
        window = session.scalars(select(Account).where(Account.username == staff)).one()
        hall = next(g.binding for g in window.roles if g.role == "window_staff")
        row = CounterVisit(
            hall_key=hall,
            staff_account=window.id,
            person_id=person,
            identified_by="id_card",
            expires_at=utcnow() + timedelta(hours=hours),
        )
        session.add(row)
        session.commit()
        return row.id


def rate(world: World, user: str, **body: Any) -> Any:
    return world.client.post("/api/v1/ratings", json=body, headers=world.auth(user))


def step(world: World, user: str, ticket_id: int, action: str, **body: Any) -> Any:
    return world.client.post(
        f"/api/v1/rating-tickets/{ticket_id}/{action}", json=body, headers=world.auth(user)
    )
