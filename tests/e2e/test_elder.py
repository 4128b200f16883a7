"""长辈版: one switch, remembered; large type, 7:1 contrast, big targets, fewer items on a
screen, and the hall's phone number on every page (the national 适老化 rules for websites)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Person

PAGES = ["/", "/matters?q=生孩子", "/matters/20P010000001", "/bundles", "/halls", "/login"]
SIGNED_IN = ["/me", "/me/cases", "/me/code", "/me/licenses"]
# What a finger must hit: buttons, fields (not the boxes inside a label) and the main menu.
TARGETS = ", ".join(
    [
        "main .btn",
        "main button",
        "main input:not([type=hidden]):not([type=radio]):not([type=checkbox])",
        "main select",
        ".top-nav a",
    ]
)


def _sizes(person: Person) -> dict[str, float]:
    return person.page.evaluate(
        """(targetSelector) => {
            const px = (el) => el ? parseFloat(getComputedStyle(el).fontSize) : 0;
            const targets = [...document.querySelectorAll(targetSelector)]
                .filter(el => el.offsetParent !== null)
                .map(el => el.getBoundingClientRect().height);
            const paragraphs = [...document.querySelectorAll('main p, main li, main dd')]
                .filter(el => el.offsetParent !== null && el.innerText.trim()).map(px);
            return {
                body: px(document.body),
                h1: px(document.querySelector('h1')),
                smallest_text: Math.min(...paragraphs),
                smallest_target: Math.min(...targets),
            };
        }""",
        TARGETS,
    )


def test_the_elder_view_is_one_switch_and_remembered(person: Person) -> None:
    person.visit("/")
    with person.page.expect_navigation():
        person.page.click("a.mode-switch[href='?mode=elder']")
    assert "elder" in (person.page.get_attribute("body", "class") or "")
    person.visit("/matters")  # no parameter: the cookie remembers
    assert "elder" in (person.page.get_attribute("body", "class") or "")
    with person.page.expect_navigation():
        person.page.click("a.mode-switch[href='?mode=standard']")
    person.visit("/")
    assert "elder" not in (person.page.get_attribute("body", "class") or "")


@pytest.mark.parametrize("path", PAGES)
def test_every_public_page_in_the_elder_view(person: Person, path: str) -> None:
    person.visit(path + ("&" if "?" in path else "?") + "mode=elder")
    sizes = _sizes(person)
    assert sizes["body"] >= 18 and sizes["h1"] >= 24, sizes
    assert sizes["smallest_text"] >= 18, sizes
    assert sizes["smallest_target"] >= 48, sizes
    assert person.page.locator("footer a.hotline[href^='tel:']").is_visible()
    name = path.strip("/").split("?")[0].replace("/", "-") or "home"
    person.check(f"elder-{name}", enhanced_contrast=True)


def test_signed_in_pages_in_the_elder_view(person: Person) -> None:
    person.log_in("citizen2")  # born 1948
    for path in SIGNED_IN:
        person.visit(path + "?mode=elder")
        sizes = _sizes(person)
        assert sizes["body"] >= 18 and sizes["smallest_text"] >= 18, (path, sizes)
        assert sizes["smallest_target"] >= 48, (path, sizes)
        person.check(f"elder-{path.strip('/').replace('/', '-')}", enhanced_contrast=True)


def test_the_elder_view_shows_fewer_results_on_a_screen(person: Person) -> None:
    person.visit("/matters?audience=person&mode=standard")
    standard = person.page.locator(".matter-card").count()
    person.visit("/matters?audience=person&mode=elder")
    elder = person.page.locator(".matter-card").count()
    assert 0 < elder < standard, (elder, standard)


def test_the_elder_home_is_a_few_big_doors_and_the_phone_number(person: Person) -> None:
    person.visit("/?mode=elder")
    doors = person.page.locator(".elder-doors a.door")
    assert doors.count() == 6
    assert min(d.bounding_box()["height"] for d in doors.all()) >= 96  # type: ignore[index]
    assert person.page.locator("main a[href^='tel:']").is_visible()
    assert person.page.locator("a[href^='/matters?district=']").count() == 0  # no district wall
    with person.page.expect_navigation():
        doors.first.click()
    assert "/login" in person.page.url  # the code is the holder's: log in first
    person.visit("/?mode=standard")
    assert person.page.locator(".elder-doors").count() == 0
