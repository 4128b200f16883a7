"""一事一评 and 一次一评: one rating per subject and rater, changed only by the rater within the
window, refused clearly when it is not the caller's to give, and a bad one opens a ticket."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select, update

from tests.cases.helpers import apply
from tests.idcode.conftest import World
from tests.ratings.helpers import SCHOOL, finished_case, rate, visit
from tongban.db import utcnow
from tongban.notify.models import Message
from tongban.ratings.models import Rating, RatingTicket


def _fields(r: object) -> set[str]:
    return {e["field"] for e in r.json()["errors"]}  # type: ignore[attr-defined]


def test_a_case_is_rated_once_and_a_retry_changes_nothing(rated: World, a_known_day: date) -> None:
    case = finished_case(rated)
    body = {"case_id": case["id"], "level": 5, "indicators": {"efficiency": 5}, "channel": "app"}
    first = rate(rated, "citizen1", **body)
    assert first.status_code == 201, first.text
    again = rate(rated, "citizen1", **body)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["changes"] == 0
    with rated.session() as session:
        rows = session.scalar(select(func.count()).where(Rating.case_id == case["id"]))
    assert rows == 1
    assert first.json()["level_label"] == "非常满意" and first.json()["ticket"] is None


def test_the_rater_changes_it_within_the_window_and_then_never(
    rated: World, a_known_day: date
) -> None:
    case = finished_case(rated)
    rate(rated, "citizen1", case_id=case["id"], level=3)
    changed = rate(rated, "citizen1", case_id=case["id"], level=4, comment="后来想想挺好")
    assert changed.status_code == 200 and changed.json()["level"] == 4
    assert changed.json()["changes"] == 1 and changed.json()["comment"] == "后来想想挺好"
    days = rated.settings.rating_change_days
    with rated.session() as session:
        session.execute(
            update(Rating)
            .where(Rating.case_id == case["id"])
            .values(rated_at=utcnow() - timedelta(days=days + 1))
        )
        session.commit()
    late = rate(rated, "citizen1", case_id=case["id"], level=1, comment="改主意了")
    assert late.status_code == 409 and late.json()["code"] == "rating_locked"
    assert (
        rated.client.get(
            "/api/v1/ratings/mine", params={"case_id": case["id"]}, headers=rated.auth("citizen1")
        ).json()["level"]
        == 4
    )


def test_nobody_else_rates_or_changes_it(rated: World, a_known_day: date) -> None:
    case = finished_case(rated)
    rate(rated, "citizen1", case_id=case["id"], level=5)
    for user in ("citizen2", "window1", case_reviewer(case)):
        r = rate(rated, user, case_id=case["id"], level=1, comment="冒充")
        assert r.status_code in (403, 404), (user, r.text)
    mine = rated.client.get(
        "/api/v1/ratings/mine", params={"case_id": case["id"]}, headers=rated.auth("citizen1")
    )
    assert mine.json()["level"] == 5


def case_reviewer(case: dict[str, object]) -> str:
    return f"rev_{case['department']}"


def test_an_unfinished_case_cannot_be_rated(rated: World, a_known_day: date) -> None:
    draft = apply(rated, SCHOOL, "citizen1", submit=False).json()
    r = rate(rated, "citizen1", case_id=draft["id"], level=5)
    assert r.status_code == 409 and r.json()["code"] == "not_rateable"
    assert r.json()["title"] and r.json()["title_en"]


def test_bad_input_is_refused_field_by_field_and_changes_nothing(
    rated: World, a_known_day: date
) -> None:
    case = finished_case(rated)
    cid = case["id"]
    assert _fields(rate(rated, "citizen1", case_id=cid, level=6)) == {"level"}
    unknown = rate(rated, "citizen1", case_id=cid, level=4, indicators={"attitude": 4})
    assert unknown.status_code == 422 and _fields(unknown) == {"indicators.attitude"}
    silent = rate(rated, "citizen1", case_id=cid, level=1)
    assert silent.status_code == 422 and _fields(silent) == {"comment"}
    both = rate(rated, "citizen1", case_id=cid, visit_id=1, level=4)
    assert both.status_code == 422
    extra = rate(rated, "citizen1", case_id=cid, level=4, rater="someone")
    assert extra.status_code == 422
    with rated.session() as session:
        assert not session.scalar(select(func.count()).where(Rating.case_id == cid))


def test_a_bad_rating_opens_one_ticket_and_withdrawing_it_closes_it(
    rated: World, a_known_day: date
) -> None:
    case = finished_case(rated)
    bad = rate(rated, "citizen1", case_id=case["id"], level=2, comment="材料清单不对")
    assert bad.status_code == 201
    ticket = bad.json()["ticket"]
    assert ticket["status"] == "verifying" and ticket["due_on"]
    good = rate(rated, "citizen1", case_id=case["id"], level=4, comment="问题已解决")
    assert good.json()["ticket"]["status"] == "closed"
    assert good.json()["ticket"]["resolution"] == "withdrawn"
    again = rate(rated, "citizen1", case_id=case["id"], level=1, comment="又出问题了")
    assert again.json()["ticket"]["id"] == ticket["id"]
    assert again.json()["ticket"]["status"] == "verifying"
    with rated.session() as session:
        tickets = session.scalar(
            select(func.count())
            .select_from(RatingTicket)
            .join(Rating, Rating.id == RatingTicket.rating_id)
            .where(Rating.case_id == case["id"])
        )
    assert tickets == 1


def test_a_visit_is_rated_by_the_person_served_on_counter_indicators(
    rated: World, a_known_day: date
) -> None:
    vid = visit(rated, "citizen1")
    online = rate(rated, "citizen1", visit_id=vid, level=4, indicators={"ease_of_use": 4})
    assert online.status_code == 422
    r = rate(rated, "citizen1", visit_id=vid, level=4, indicators={"attitude": 5}, channel="scan")
    assert r.status_code == 201 and r.json()["subject"] == "visit"
    assert rate(rated, "citizen2", visit_id=vid, level=1, comment="x").status_code == 404


def test_the_hall_pad_takes_one_tap_and_only_the_person_changes_it(
    rated: World, a_known_day: date
) -> None:
    vid = visit(rated, "citizen2", staff="window1")
    tap = rate(rated, "window1", visit_id=vid, level=5, channel="pad")
    assert tap.status_code == 201
    assert "comment" not in tap.json()
    overwrite = rate(rated, "window1", visit_id=vid, level=3, channel="pad")
    assert overwrite.status_code == 409 and overwrite.json()["code"] == "already_rated"
    assert rate(rated, "window2", visit_id=vid, level=5, channel="pad").status_code == 404
    own = rate(rated, "citizen2", visit_id=vid, level=3, channel="app")
    assert own.status_code == 200 and own.json()["id"] == tap.json()["id"]
    with rated.session() as session:
        row = session.get(Rating, tap.json()["id"])
        assert row is not None and row.rater_account is None and row.channel == "pad"


def test_the_pad_works_only_while_the_visit_is_open(rated: World, a_known_day: date) -> None:
    vid = visit(rated, "citizen1", staff="window1", hours=-1)
    r = rate(rated, "window1", visit_id=vid, level=5, channel="pad")
    assert r.status_code == 404
    case = finished_case(rated)
    on_case = rate(rated, "window1", case_id=case["id"], level=5, channel="pad")
    assert on_case.status_code == 422


def test_the_decision_text_message_carries_the_rating_link(rated: World, a_known_day: date) -> None:
    case = finished_case(rated)
    with rated.session() as session:
        texts = session.scalars(
            select(Message.body).where(
                Message.topic == f"case:{case['id']}", Message.channel == "sms"
            )
        ).all()
    assert any(f"/cases/{case['id']}/rate?ch=sms" in body for body in texts), texts


def test_my_rating_names_exactly_one_subject(rated: World, a_known_day: date) -> None:
    r = rated.client.get("/api/v1/ratings/mine", headers=rated.auth("citizen1"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "case_id"
    both = rated.client.get(
        "/api/v1/ratings/mine", params={"case_id": 1, "visit_id": 1}, headers=rated.auth("citizen1")
    )
    assert both.status_code == 422
