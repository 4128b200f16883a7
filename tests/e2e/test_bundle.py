"""A parent answers a few questions, sees what the birth of a child takes, fills one form,
uploads each paper once and submits every matter at once."""

from __future__ import annotations

from tests.e2e.conftest import Person, fill_empty_fields, upload_every_paper


def test_apply_for_the_childbirth_bundle(person: Person) -> None:
    person.log_in("citizen1")
    person.visit("/bundles")
    person.check("list")
    with person.page.expect_navigation():
        person.page.click('a[href="/bundles/birth"]')
    for group in person.page.locator("form[method=get] fieldset").all():
        group.locator("input[type=radio]").first.check()
    with person.page.expect_navigation():
        person.page.click("form[method=get] button[type=submit]")
    assert "birth?" in person.page.url
    person.check("plan")
    start = person.page.locator('form[action="/bundles/birth/start"]')
    fill_empty_fields(start)
    with person.page.expect_navigation():
        start.locator("button[type=submit]").click()
    assert "/bundle-cases/" in person.page.url
    form = person.page.locator('form[action$="/form"]')
    assert fill_empty_fields(form) > 0
    with person.page.expect_navigation():
        form.locator("button[type=submit]").click()
    person.check("form")
    upload_every_paper(person)
    with person.page.expect_navigation():
        person.page.click('form[action$="/submit"] button[type=submit]')
    assert "办理进度" in person.text()
    person.check("submitted")
