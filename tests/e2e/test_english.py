"""English for a foreign resident: the toggle (remembered), `?lang=en`, the browser's own
language; the portal's words in English, the catalog's names in English."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Person

CHINESE = re.compile(r"[\u4e00-\u9fff]")
# Pages whose words are all the portal's own (no catalog text, no one's name).
OWN_WORDS = ["/login", "/bundles/metrics", "/catalog/stats"]
MAIN_PAGES = ["/", "/matters?q=birth", "/matters/20P010000001", "/bundles", "/industries"]


def _unnamed(text: str) -> str:
    """Text without what stays Chinese on purpose: the brand's seal and the switch's 中文."""
    return text.replace("中文", "").replace("通", "")


def test_the_toggle_switches_to_english_and_is_remembered(person: Person) -> None:
    person.visit("/")
    assert person.page.get_attribute("html", "lang") == "zh-CN"
    with person.page.expect_navigation():
        person.page.click("a[href='?lang=en']")
    assert person.page.get_attribute("html", "lang") == "en"
    person.visit("/departments")
    assert person.page.get_attribute("html", "lang") == "en"
    assert "Departments" in person.page.inner_text("nav")
    with person.page.expect_navigation():
        person.page.click("a[href='?lang=zh']")
    assert person.page.get_attribute("html", "lang") == "zh-CN"


def test_an_english_browser_gets_english(person_factory: object) -> None:
    visitor: Person = person_factory(locale="en-GB")  # type: ignore[operator]
    visitor.visit("/")
    assert visitor.page.get_attribute("html", "lang") == "en"


@pytest.mark.parametrize("path", OWN_WORDS)
def test_pages_of_the_portals_own_words_have_no_chinese_left(person: Person, path: str) -> None:
    person.visit(path + "?lang=en")
    text = person.page.inner_text("body")
    leftover = [line for line in text.splitlines() if CHINESE.search(_unnamed(line))]
    assert leftover == [], leftover[:10]
    person.check("en-" + path.strip("/").replace("/", "-"))


@pytest.mark.parametrize("path", MAIN_PAGES)
def test_main_pages_in_english(person: Person, path: str) -> None:
    person.visit(path + ("&" if "?" in path else "?") + "lang=en")
    chrome = person.page.inner_text("header") + person.page.inner_text("footer")
    assert not CHINESE.search(_unnamed(chrome)), chrome
    assert person.page.locator("h1").first.inner_text().strip()
    name = path.strip("/").split("?")[0].replace("/", "-") or "home"
    person.check(f"en-{name}")


def test_signed_in_pages_in_english(person: Person) -> None:
    person.log_in("citizen1")
    for path in ["/me", "/me/cases", "/me/code", "/me/licenses"]:
        person.visit(path + "?lang=en")
        # Headings are the portal's words (the greeting's name is the person's own).
        headings = " ".join(person.page.locator("main h2").all_inner_texts())
        assert not CHINESE.search(headings), (path, headings)
        person.check("en-" + path.strip("/").replace("/", "-"))
