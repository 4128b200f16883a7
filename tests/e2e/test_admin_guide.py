"""An administrator corrects a guide: the link from the guide, the form with its checks, a new
version that citizens read at once, the old version still readable."""

from __future__ import annotations

from tests.e2e.conftest import Person

CODE = "20P008000002"  # a guide no other journey reads


def test_an_admin_edits_a_guide(person_factory: object, viewport: str) -> None:
    admin: Person = person_factory()  # type: ignore[operator]
    admin.log_in("admin")
    admin.visit(f"/matters/{CODE}")
    with admin.page.expect_navigation():
        admin.page.click(f'a[href="/admin/matters/{CODE}/edit"]')
    admin.check("edit")
    days = admin.page.input_value("#promised_days")
    admin.page.fill("#promised_days", "abc")
    with admin.page.expect_navigation():
        admin.page.click("form.stack-form button[type=submit]")
    assert admin.page.locator(".error-summary a[href='#promised_days']").is_visible()
    admin.check("edit-error")
    admin.page.fill("#promised_days", days)
    note = f"（{viewport}）材料可在随申办上传，无需到现场。"
    admin.page.fill("#description", note)
    with admin.page.expect_navigation():
        admin.page.click("form.stack-form button[type=submit]")
    published = admin.page.locator(".notice[role=status]").inner_text()
    assert "已发布" in published

    citizen: Person = person_factory()  # type: ignore[operator]
    citizen.visit(f"/matters/{CODE}")
    assert note in citizen.text()
    assert citizen.page.locator(f'a[href="/admin/matters/{CODE}/edit"]').count() == 0
    citizen.visit(f"/matters/{CODE}?version=1")
    assert note not in citizen.text()
    citizen.check("old-version")
