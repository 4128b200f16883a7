"""Keyboard only: the skip link first, a visible focus on every stop, a search and a login
done without a mouse."""

from __future__ import annotations

from tests.e2e.conftest import PASSWORD, Person


def _focused(person: Person) -> dict[str, str]:
    return person.page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {id: el.id, tag: el.tagName.toLowerCase(), cls: el.className || '',
                    text: (el.innerText || '').trim(), outline: style.outlineStyle,
                    width: style.outlineWidth, href: el.getAttribute('href') || ''};
        }"""
    )


def test_search_with_the_keyboard_alone(person: Person) -> None:
    person.visit("/")
    person.page.keyboard.press("Tab")
    first = _focused(person)
    assert "skip-link" in first["cls"] and first["outline"] != "none", first
    assert person.page.locator(".skip-link").is_visible()
    person.page.keyboard.press("Enter")
    # The jump to #main lands a moment after the key (a busy machine showed the old URL).
    person.page.wait_for_url("**#main", timeout=5_000)
    for _ in range(40):
        person.page.keyboard.press("Tab")
        now = _focused(person)
        assert now["outline"] != "none" and now["width"] != "0px", now  # focus is visible
        if now["id"] == "q":
            break
    else:
        raise AssertionError("the search box is not reachable by Tab")
    person.page.keyboard.type("开便利店")
    with person.page.expect_navigation():
        person.page.keyboard.press("Enter")
    assert person.page.locator(".matter-card").count() > 0
    person.photo("results")


def test_log_in_with_the_keyboard_alone(person: Person) -> None:
    person.visit("/login")
    for _ in range(30):
        person.page.keyboard.press("Tab")
        if _focused(person)["id"] == "username":
            break
    person.page.keyboard.type("citizen1")
    person.page.keyboard.press("Tab")
    assert _focused(person)["id"] == "password"
    person.page.keyboard.type("wrong-password")
    with person.page.expect_navigation():
        person.page.keyboard.press("Enter")
    # The error is announced and named, and the form keeps the username.
    assert person.page.locator("[role=alert]").is_visible()
    assert person.page.input_value("#username") == "citizen1"
    person.check("login-error")
    person.page.focus("#password")
    person.page.keyboard.type(PASSWORD)
    with person.page.expect_navigation():
        person.page.keyboard.press("Enter")
    assert "/login" not in person.page.url
