"""The statistics' arithmetic on a known set of ratings (in months and units no other test
uses): counts, distribution, satisfaction, bad ratings rectified and on time, per group."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.idcode.conftest import World
from tongban.db import utcnow
from tongban.identity.models import Account
from tongban.ratings.models import Rating, RatingTicket

# (department, month, level, ticket: None | "open" | "on_time" | "late", excluded)
KNOWN = [
    ("stats-a", "2001-01", 5, None, False),
    ("stats-a", "2001-01", 5, None, False),
    ("stats-a", "2001-01", 4, None, False),
    ("stats-a", "2001-01", 3, None, False),
    ("stats-a", "2001-01", 2, "on_time", False),
    ("stats-a", "2001-01", 1, "late", False),
    ("stats-a", "2001-01", 1, "open", False),
    ("stats-a", "2001-01", 1, "on_time", True),  # set aside on appeal: not counted anywhere
    ("stats-b", "2001-01", 5, None, False),
    ("stats-b", "2001-01", 5, None, False),
    ("stats-a", "2001-02", 4, None, False),
]


@pytest.fixture(scope="module")
def known(rated: World) -> World:
    with rated.session() as session:
        person = session.scalar(select(Account.person_id).where(Account.username == "citizen1"))
        staff = session.scalar(select(Account.id).where(Account.username == "window1"))
        assert person is not None
        for n, (department, month, level, ticket, excluded) in enumerate(KNOWN):
            rating = Rating(
                subject="case",
                subject_id=900_000 + n,
                rater_person_id=person,
                level=level,
                indicators={},
                channel="web",
                department_key=department,
                hall_key="stats-hall",
                matter_code="99P999999999",
                matter_name="统计测试事项",
                staff_account=staff if n % 2 else None,
                month=month,
                excluded=excluded,
                changes=0,
            )
            session.add(rating)
            session.flush()
            if ticket is not None:
                answered = ticket != "open"
                session.add(
                    RatingTicket(
                        rating_id=rating.id,
                        status="closed" if answered else "verifying",
                        unit_kind="department",
                        unit_key=department,
                        opened_on=date(2001, 1, 2),
                        step_since=date(2001, 1, 2),
                        late_steps=int(ticket == "late"),
                        reopened=0,
                        answered_at=utcnow() if answered else None,
                        answered_on_time=(ticket == "on_time") if answered else None,
                    )
                )
        session.commit()
    return rated


def stats(world: World, path: str = "", **params: str) -> object:
    r = world.client.get(f"/api/v1/ratings/stats{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_one_month_of_one_department(known: World) -> None:
    assert stats(known, department="stats-a", month="2001-01") == {
        "count": 7,
        "levels": {"1": 2, "2": 1, "3": 1, "4": 1, "5": 2},
        "satisfaction_rate": round(4 / 7, 4),
        "bad": 3,
        "rectified": 2,
        "rectified_on_time": 1,
        "rectification_rate": round(2 / 3, 4),
        "on_time_rate": 0.5,
    }


def test_filters_combine_and_an_empty_selection_has_no_rates(known: World) -> None:
    month = stats(known, month="2001-01")
    assert month["count"] == 9 and month["levels"]["5"] == 4  # type: ignore[index]
    assert month["satisfaction_rate"] == round(6 / 9, 4)  # type: ignore[index]
    assert stats(known, department="stats-a")["count"] == 8  # type: ignore[index]
    assert stats(known, matter="99P999999999", month="2001-02")["count"] == 1  # type: ignore[index]
    empty = stats(known, department="stats-none")
    assert empty["count"] == 0 and empty["satisfaction_rate"] is None  # type: ignore[index]
    assert empty["rectification_rate"] is None  # type: ignore[index]


def test_groups_by_department_and_by_month(known: World) -> None:
    rows = stats(known, "/by/department", month="2001-01")
    assert [(r["key"], r["count"], r["bad"]) for r in rows] == [  # type: ignore[attr-defined]
        ("stats-a", 7, 3),
        ("stats-b", 2, 0),
    ]
    assert rows[1]["satisfaction_rate"] == 1.0 and rows[1]["rectification_rate"] is None  # type: ignore[index]
    months = stats(known, "/by/month", department="stats-a")
    assert [(r["key"], r["count"]) for r in months] == [("2001-01", 7), ("2001-02", 1)]  # type: ignore[attr-defined]


def test_per_staff_figures_are_for_supervisors_only(known: World) -> None:
    path = "/api/v1/ratings/stats/staff"
    assert known.client.get(path, headers=known.auth("citizen1")).status_code == 403
    assert known.client.get(path).status_code == 401
    r = known.client.get(path, params={"hall": "stats-hall"}, headers=known.auth("supervisor2"))
    assert r.status_code == 200
    assert [(row["name"], row["count"]) for row in r.json()] == [
        ("街镇受理窗口", 4)
    ]  # odd rows, less the excluded one


def test_bad_parameters_are_refused(known: World) -> None:
    for params in ({"month": "2001-13"}, {"matter": "x"}, {"department": "A B"}):
        r = known.client.get("/api/v1/ratings/stats", params=params)
        assert r.status_code == 422 and r.json()["errors"], params
    assert known.client.get("/api/v1/ratings/stats/by/staff").status_code == 422
