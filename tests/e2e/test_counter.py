"""A walk-in applicant at a street centre's integrated counter: the clerk scans their 随申码,
takes the form prefilled from the registries, scans the papers, has the applicant sign, submits
and prints the receipt."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image

from tests.e2e.conftest import Person, fill_empty_fields, upload_every_paper

SCHOOL = "20P010000001"  # 义务教育阶段入学报名登记, a personal matter of the street centres


def _code_text(holder: Person) -> str:
    """What the counter's scanner gun reads off the applicant's phone."""
    holder.visit("/me/code")
    shot = holder.page.locator(".code-qr svg").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert found, "the code on the phone did not scan"
    return str(found[0].text)


def _signature_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (240, 80), "white").save(out, "PNG")
    return out.getvalue()


def test_a_clerk_serves_a_walk_in_applicant(person_factory: object) -> None:
    applicant: Person = person_factory()  # type: ignore[operator]
    applicant.log_in("citizen1")
    code = _code_text(applicant)

    clerk: Person = person_factory()  # type: ignore[operator]
    clerk.log_in("window1")
    clerk.visit("/window")
    clerk.check("identify")
    clerk.page.fill("#code", code)
    with clerk.page.expect_navigation():
        clerk.page.click('form[action="/window"] button[type=submit]')
    assert "/window/visits/" in clerk.page.url, clerk.text()
    clerk.page.fill("#matter", SCHOOL)
    with clerk.page.expect_navigation():
        clerk.page.click("form.search-form button[type=submit]")
    form = clerk.page.locator('form[action$="/cases"]')
    assert form.locator(".tag-exempt").count() >= 1  # 免填报 from the population registry
    clerk.check("form")
    fill_empty_fields(form)
    with clerk.page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "/staff/cases/" in clerk.page.url, clerk.text()

    upload_every_paper(clerk, 'form[action$="/materials"]:not(:has(input[value="_signature"]))')
    signature = clerk.page.locator('form:has(input[value="_signature"])')
    if signature.count():
        signature.locator("input[type=file]").set_input_files(
            {"name": "签名.png", "mimeType": "image/png", "buffer": _signature_png()}
        )
        with clerk.page.expect_navigation():
            signature.locator("button[type=submit]").click()
    clerk.check("case")
    submit = clerk.page.locator('form:has(input[name="action"][value="submit"]) button')
    with clerk.page.expect_navigation():
        submit.click()
    with clerk.page.expect_navigation():
        clerk.page.click('a[href$="/receipt"]')
    assert "回执" in clerk.text()
    clerk.check("receipt")
