"""A department head opens the dashboard: cases per day and channel, deadlines met, what
applicants did not have to hand in, what the bundles save, and the ratings."""

from __future__ import annotations

from tests.e2e.conftest import Person


def test_a_leader_reads_the_dashboard(person: Person) -> None:
    person.log_in("admin")
    person.visit("/dashboard")
    chart = person.page.locator("svg.chart-columns")
    assert chart.is_visible()
    assert chart.locator("rect").count() >= 1  # the demo's applications of today
    assert person.page.locator(".figure-row dd").count() >= 4
    person.check("dashboard")
    person.page.click("details summary")
    assert person.page.locator("details table tbody tr").count() >= 1
    person.visit("/dashboard?lang=en")
    assert "Cases per day, by channel" in person.text()
    person.check("dashboard-en")


def test_a_citizen_cannot_open_the_dashboard(person: Person) -> None:
    person.log_in("citizen1")
    response = person.page.goto(person.base + "/dashboard")
    assert response is not None and response.status == 403
