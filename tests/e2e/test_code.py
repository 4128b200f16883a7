"""A resident shows their 随申码; a hotel's front desk photographs it and learns exactly what the
hotel scene may know; the resident sees who scanned them."""

from __future__ import annotations

from tests.e2e.conftest import Person


def test_show_the_code_and_have_a_verifier_scan_it(person_factory: object) -> None:
    holder: Person = person_factory()  # type: ignore[operator]
    holder.log_in("citizen1")
    holder.visit("/me/code")
    qr = holder.page.locator(".code-qr svg")
    assert qr.is_visible()
    holder.check("code")
    # The desk photographs the screen: the QR as the holder's phone draws it, nothing else.
    photo = qr.screenshot()

    desk: Person = person_factory()  # type: ignore[operator]
    desk.log_in("hotel1")
    desk.visit("/scan")
    desk.check("scanner")
    desk.page.set_input_files(
        "#photo_file", {"name": "code.png", "mimeType": "image/png", "buffer": photo}
    )
    with desk.page.expect_navigation():
        desk.page.click('form[action="/scan"] button[type=submit]')
    result = desk.page.locator(".scan-result")
    assert "scan-ok" in (result.get_attribute("class") or ""), desk.text()
    text = result.inner_text()
    assert "刘芳" in text or "姓名" in text  # the hotel scene releases the name
    desk.check("scanned")

    holder.visit("/me/code/scans")
    assert holder.page.locator("table tbody tr, .scan-list li").count() >= 1
    holder.check("scans")
