"""Working days across holidays and adjusted workdays; unknown years are errors, not guesses."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from tongban.workdays.service import (
    CalendarUnknown,
    Special,
    calendar,
    known_years,
    seed_from_chinesecalendar,
    set_year,
)


@pytest.fixture
def seeded(empty_db: Session) -> Session:
    seed_from_chinesecalendar(empty_db)
    return empty_db


def test_seeding_enters_every_published_year_once(seeded: Session) -> None:
    years = known_years(seeded)
    assert years[0] == 2004
    assert 2026 in years
    assert seed_from_chinesecalendar(seeded) == []  # nothing new the second time


def test_national_day_week_and_its_adjusted_workdays(seeded: Session) -> None:
    cal = calendar(seeded, fresh=True)
    # 2026: National Day and Mid-autumn, 1-7 October (Thu 1 to Wed 7); Sat 10 October is worked.
    assert not cal.is_workday(date(2026, 10, 1))
    assert not cal.is_workday(date(2026, 10, 7))
    assert cal.is_workday(date(2026, 10, 10))  # a Saturday, adjusted workday (调休)
    assert cal.is_workday(date(2026, 9, 20))  # a Sunday, adjusted workday
    assert not cal.is_workday(date(2026, 10, 11))  # an ordinary Sunday
    # Three working days after Tuesday 29 September: Wed 30, then Thu 8, Fri 9 October.
    assert cal.add_working_days(date(2026, 9, 29), 3) == date(2026, 10, 9)
    # ... and the adjusted Saturday counts: four working days land on Saturday 10 October.
    assert cal.add_working_days(date(2026, 9, 29), 4) == date(2026, 10, 10)
    assert cal.working_days_between(date(2026, 9, 29), date(2026, 10, 12)) == 5


def test_an_ordinary_week(seeded: Session) -> None:
    cal = calendar(seeded, fresh=True)
    assert cal.add_working_days(date(2026, 11, 27), 1) == date(2026, 11, 30)  # Fri -> Mon
    assert cal.add_working_days(date(2026, 11, 27), 0) == date(2026, 11, 27)


def test_a_deadline_into_an_unknown_year_is_an_error(seeded: Session) -> None:
    cal = calendar(seeded, fresh=True)
    with pytest.raises(CalendarUnknown) as caught:
        cal.add_working_days(date(2026, 12, 20), 20)
    assert caught.value.code == "calendar_year_unknown"
    assert caught.value.status == 409


def test_an_administrator_enters_the_next_year(seeded: Session) -> None:
    set_year(
        seeded,
        2027,
        [
            Special(date(2027, 1, 1), "holiday", "元旦"),
            Special(date(2027, 2, 20), "workday", "春节"),  # a Saturday worked
        ],
        "admin:test",
    )
    cal = calendar(seeded, fresh=True)
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.is_workday(date(2027, 2, 20))
    assert cal.add_working_days(date(2026, 12, 30), 2) == date(
        2027, 1, 4
    )  # Thu 31, (Fri 1 off), Mon 4


def test_days_of_another_year_are_refused(seeded: Session) -> None:
    from tongban.errors import DomainError

    with pytest.raises(DomainError) as caught:
        set_year(seeded, 2027, [Special(date(2028, 1, 1), "holiday", "元旦")], "admin:test")
    assert caught.value.code == "validation_failed"
