"""The staff queue comes a page at a time, nearest deadline first, with the whole queue's
length beside it: a department of a city has tens of thousands of open cases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from tests.cases.helpers import SCHOOL, apply, move, reviewer_of
from tests.cases.test_pages import browser
from tests.idcode.conftest import World
from tongban.cases.models import Case

pytestmark = pytest.mark.usefixtures("a_known_day")


def _queue(world: World, user: str, **params: Any) -> Any:
    return world.client.get("/api/v1/cases/queue", params=params, headers=world.auth(user))


def _submitted(world: World, n: int) -> list[int]:
    ids = []
    for _ in range(n):
        r = apply(world, SCHOOL, "citizen1")
        assert r.status_code == 200, r.text
        ids.append(int(r.json()["id"]))
    return ids


def test_the_pages_of_the_queue_are_the_whole_queue_in_deadline_order(full: World) -> None:
    reviewer = reviewer_of(full, SCHOOL)
    made = _submitted(full, 3)
    accepted = made[0]
    assert move(full, accepted, reviewer, "accept").status_code == 200
    whole = _queue(full, reviewer, size=200)
    assert whole.status_code == 200, whole.text
    total = int(whole.headers["x-total-count"])
    assert total == len(whole.json()) >= 3
    paged: list[dict[str, Any]] = []
    page = 1
    while True:
        r = _queue(full, reviewer, page=page, size=2)
        assert r.status_code == 200, r.text
        assert int(r.headers["x-total-count"]) == total
        if not r.json():
            break
        assert len(r.json()) <= 2
        paged += r.json()
        page += 1
    assert [c["id"] for c in paged] == [c["id"] for c in whole.json()]
    assert set(made) <= {c["id"] for c in paged}
    # The accepted case has a due day and comes before those not yet accepted, which have none.
    dues = [c["due_date"] for c in paged]
    dated = [d for d in dues if d]
    assert dated == sorted(dated)
    assert dues[: len(dated)] == dated


def test_a_decided_case_leaves_the_queue_and_its_count(full: World) -> None:
    reviewer = reviewer_of(full, SCHOOL)
    (case_id,) = _submitted(full, 1)
    before = int(_queue(full, reviewer).headers["x-total-count"])
    for action in ("accept", "start_review", "approve"):
        assert move(full, case_id, reviewer, action).status_code == 200
    after = _queue(full, reviewer, size=200)
    assert int(after.headers["x-total-count"]) == before - 1
    assert case_id not in {c["id"] for c in after.json()}


@pytest.mark.parametrize("params", [{"size": 0}, {"size": 201}, {"page": 0}, {"page": "x"}])
def test_a_page_out_of_bounds_is_refused_with_its_field(
    full: World, params: dict[str, Any]
) -> None:
    r = _queue(full, reviewer_of(full, SCHOOL), **params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in r.json()["errors"]} == set(params)


def test_the_queue_page_links_to_the_next_page(
    full: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tongban.cases.service.QUEUE_PAGE", 1)
    reviewer = reviewer_of(full, SCHOOL)
    _submitted(full, 2)
    client = browser(full, reviewer)
    first = client.get("/staff/queue")
    assert first.status_code == 200
    assert 'href="/staff/queue?page=2"' in first.text
    assert "上一页" not in first.text
    second = client.get("/staff/queue?page=2")
    assert 'href="/staff/queue?page=1"' in second.text
    rows = [line for line in second.text.splitlines() if 'href="/staff/cases/' in line]
    assert len(rows) == 1
    # Past the last page (the queue shrank since the link was drawn): a way back, not "empty".
    past = client.get("/staff/queue?page=9999")
    assert past.status_code == 200
    assert "这一页没有办件" in past.text and "没有待办的办件" not in past.text
    assert 'href="/staff/queue"' in past.text


def test_a_case_handled_elsewhere_stays_off_the_departments_queue(full: World) -> None:
    reviewer = reviewer_of(full, SCHOOL)
    (case_id,) = _submitted(full, 1)
    with full.session() as session:
        session.execute(update(Case).where(Case.id == case_id).values(remote_region="320000"))
        session.commit()
    assert case_id not in {c["id"] for c in _queue(full, reviewer, size=200).json()}
