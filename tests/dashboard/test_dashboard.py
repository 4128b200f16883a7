"""The leader's figures follow what happens: a case handed in by app counts on its day and
channel, its materials count as exempt or uploaded, and its decision counts as on time."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from tests.cases.helpers import SCHOOL, apply, move, reviewer_of
from tests.idcode.conftest import World
from tongban.cases.figures import CHINA
from tongban.cases.models import Case
from tongban.dashboard import charts, service
from tongban.dashboard.schemas import Dashboard, DayCount


def _now_day() -> date:
    return datetime.now(CHINA).date()


def _figures(world: World, today: date | None = None) -> Dashboard:
    with world.session() as session:
        return service.dashboard(session, today or _now_day(), 30)


def test_a_case_counts_on_its_day_and_channel_and_by_its_materials(
    full: World, a_known_day: date
) -> None:
    before = _figures(full)
    case = apply(full, SCHOOL, "citizen1", channel="wechat")
    assert case.status_code == 200, case.text
    body: dict[str, Any] = case.json()
    after = _figures(full)
    assert after.days[-1].day == _now_day() and len(after.days) == 30
    assert after.days[-1].channels["wechat"] == before.days[-1].channels["wechat"] + 1
    assert after.cases_in_period == before.cases_in_period + 1
    assert after.channel_totals["wechat"] == before.channel_totals["wechat"] + 1
    resolutions = [m["resolution"] for m in body["materials"]]
    assert after.exemption.cases_total == before.exemption.cases_total + len(resolutions)
    exempt = sum(1 for r in resolutions if r != "upload")
    assert exempt >= 1  # the school matter's household register comes from the e-licenses
    assert after.exemption.cases_exempt == before.exemption.cases_exempt + exempt


def _decided_case(world: World) -> int:
    case = apply(world, SCHOOL, "citizen1").json()
    reviewer = reviewer_of(world, SCHOOL)
    for action in ("accept", "start_review", "approve"):
        moved = move(world, case["id"], reviewer, action)
        assert moved.status_code == 200, moved.text
    return int(case["id"])


def _promised(world: World, case_id: int, due: date) -> None:
    # The clock ran on a day the calendar knows; the decision was written now. Put the due
    # day either side of today, as the clock would have for a case accepted recently.
    with world.session() as session:
        session.execute(update(Case).where(Case.id == case_id).values(due_date=due))
        session.commit()


def test_a_decision_by_its_due_day_is_on_time_and_after_it_late(
    full: World, a_known_day: date
) -> None:
    # The decisions are made now: they count in the period ending today.
    before = _figures(full)
    _promised(full, _decided_case(full), _now_day() + timedelta(days=3))
    _promised(full, _decided_case(full), _now_day() - timedelta(days=3))
    after = _figures(full)
    assert after.deadlines.decided == before.deadlines.decided + 2
    assert after.deadlines.on_time == before.deadlines.on_time + 1
    assert after.deadlines.on_time_rate == after.deadlines.on_time / after.deadlines.decided


def test_reductions_cover_every_bundle_and_industry_with_their_own_figures(full: World) -> None:
    d = _figures(full)
    kinds = {r.kind for r in d.reductions}
    assert kinds == {"bundle", "industry"}
    birth = next(r for r in d.reductions if r.code == "birth")
    assert birth.after["materials"] < birth.before["materials"]
    assert birth.reduction["materials"] == pytest.approx(
        1 - birth.after["materials"] / birth.before["materials"], abs=1e-4
    )


def test_only_leaders_see_the_dashboard(full: World) -> None:
    citizen = full.client.get("/api/v1/dashboard", headers=full.auth("citizen1"))
    assert citizen.status_code == 403
    assert full.client.get("/api/v1/dashboard").status_code == 401
    admin = full.client.get("/api/v1/dashboard?days=14", headers=full.auth("admin"))
    assert admin.status_code == 200 and len(admin.json()["days"]) == 14
    bad = full.client.get("/api/v1/dashboard?days=1000", headers=full.auth("admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "days"


def test_the_page_draws_one_segment_per_channel_and_day(full: World) -> None:
    page = full.client.get("/dashboard", headers=full.auth("admin") | {"Accept": "text/html"})
    assert page.status_code == 200 and '<svg class="chart-columns"' in page.text
    d = _figures(full)
    segments = sum(1 for day in d.days for n in day.channels.values() if n)
    chart = page.text.split('class="chart-columns"', 1)[1].split("</svg>", 1)[0]
    assert chart.count("<rect") == segments
    english = full.client.get(
        "/dashboard?lang=en", headers=full.auth("admin") | {"Accept": "text/html"}
    )
    assert "Leadership dashboard" in english.text


@pytest.mark.parametrize(
    ("peak", "top"), [(0, 4), (3, 4), (5, 5), (7, 10), (11, 20), (48, 50), (51, 100), (100, 100)]
)
def test_the_axis_top_is_a_round_number_at_or_above_the_peak(peak: int, top: int) -> None:
    assert charts._nice(peak) == top


@pytest.mark.parametrize(
    ("top", "ticks"), [(4, [1, 2, 3, 4]), (10, [2, 4, 6, 8, 10]), (20, [4, 8, 12, 16, 20])]
)
def test_the_guides_are_whole_numbers(top: int, ticks: list[int]) -> None:
    assert charts._tick_values(top) == ticks


def test_dates_are_under_every_seventh_column_ending_today() -> None:
    days = [
        DayCount(day=date(2026, 11, 1) + timedelta(days=i), channels={"web": i % 3}, total=i % 3)
        for i in range(30)
    ]
    chart = charts.daily_columns(days, ["web"])
    labelled = [c.label for c in chart.columns if c.label]
    assert labelled[-1] == "11-30" and len(labelled) == 5
    assert sum(len(c.segments) for c in chart.columns) == sum(1 for d in days if d.total)


def test_a_decision_and_materials_before_the_period_do_not_count(
    full: World, a_known_day: date
) -> None:
    case_id = _decided_case(full)
    _promised(full, case_id, _now_day() + timedelta(days=3))
    with_it = _figures(full)
    with full.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.decided_on == _now_day()
        assert case.materials_license + case.materials_department + case.materials_upload == len(
            case.materials
        )
        assert case.submitted_at is not None
        moved = case.submitted_at - timedelta(days=40)
        session.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(decided_on=_now_day() - timedelta(days=40), submitted_at=moved)
        )
        session.commit()
        counted = len(case.materials)
    without = _figures(full)
    assert without.deadlines.decided == with_it.deadlines.decided - 1
    assert without.deadlines.on_time == with_it.deadlines.on_time - 1
    assert without.exemption.cases_total == with_it.exemption.cases_total - counted
    assert without.cases_in_period == with_it.cases_in_period - 1


def test_the_counts_follow_the_materials_whenever_they_are_set() -> None:
    case = Case(status="draft")
    case.materials = [
        {"key": "a", "resolution": "license"},
        {"key": "b", "resolution": "department"},
        {"key": "c", "resolution": "upload"},
        {"key": "d"},  # an older row without a resolution: the applicant handed it in
    ]
    assert (case.materials_license, case.materials_department, case.materials_upload) == (1, 1, 2)
    case.materials = []
    assert (case.materials_license, case.materials_department, case.materials_upload) == (0, 0, 0)
    assert case.decided_on is None
    case.status = "denied"
    assert case.decided_on == _now_day()
