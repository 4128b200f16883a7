"""A citizen finds a service by what they would say and reads its guide."""

from __future__ import annotations

from tests.e2e.conftest import Person


def test_find_a_service_and_read_its_guide(person: Person) -> None:
    person.visit("/")
    person.check("home")
    person.page.fill("#q", "开便利店")
    with person.page.expect_navigation():
        person.page.press("#q", "Enter")
    assert "q=" in person.page.url
    person.check("results")
    first = person.page.locator(".matter-card a").first
    name = first.locator(".card-title").inner_text()
    with person.page.expect_navigation():
        first.click()
    assert person.page.locator("h1").first.inner_text().startswith(name[:4])
    text = person.text()
    assert "申请材料" in text and "承诺" in text
    # The 免 mark of a material the government already holds, with words for screen readers.
    assert person.page.locator(".mian[aria-label]").count() >= 1
    person.check("guide")
