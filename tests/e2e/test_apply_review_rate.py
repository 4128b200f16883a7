"""An enterprise applies online with its form prefilled and its licenses attached, a reviewer
clears the queue, the result is handed out, and the applicant rates the service."""

from __future__ import annotations

import re

from tests.e2e.conftest import Person

FILING = "07E001000005"  # 仅销售预包装食品备案: market regulation, reviewer1's department
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _act(person: Person, action: str) -> None:
    form = person.page.locator(f'form:has(input[name="action"][value="{action}"])')
    for needed in form.locator("textarea[required], input[required]:not([type=hidden])").all():
        needed.fill("已核对")
    with person.page.expect_navigation():
        form.locator("button[type=submit]").click()


def test_apply_review_and_rate(person_factory: object) -> None:
    agent: Person = person_factory()  # type: ignore[operator]
    agent.log_in("enterprise1")
    agent.visit(f"/matters/{FILING}")
    with agent.page.expect_navigation():
        agent.page.click(f'a[href="/matters/{FILING}/apply"]')
    with agent.page.expect_navigation():
        agent.page.click(f'a[href^="/matters/{FILING}/apply?uscc="]')
    # 免填报: the company's record and the agent's own fill the form.
    assert agent.page.input_value("#f\\.enterprise\\.name") != ""
    assert agent.page.input_value("#f\\.person\\.phone") != ""
    agent.check("apply")

    # A mistyped phone: the error summary names it and links to the field.
    phone = agent.page.input_value("#f\\.person\\.phone")
    agent.page.fill("#f\\.person\\.phone", "12345")
    with agent.page.expect_navigation():
        agent.page.click("form.apply-form button[type=submit]")
    assert agent.page.locator(".error-summary").is_visible()
    assert agent.page.get_attribute("#f\\.person\\.phone", "aria-invalid") == "true"
    agent.check("apply-error")
    agent.page.fill("#f\\.person\\.phone", phone)
    agent.page.select_option("#f\\.food\\.online_sales", index=1)
    agent.page.fill("#f\\.store\\.name", "浦江便利店世纪大道店")
    with agent.page.expect_navigation():
        agent.page.click("form.apply-form button[type=submit]")
    case_url = agent.page.url
    assert re.search(r"/me/cases/\d+$", case_url), case_url

    # Upload what the registry does not hold, then submit.
    for upload in agent.page.locator('form[action$="/materials"] input[type=file]').all():
        upload.set_input_files({"name": "材料.pdf", "mimeType": "application/pdf", "buffer": PDF})
        with agent.page.expect_navigation():
            upload.locator("xpath=ancestor::form").locator("button[type=submit]").click()
    agent.check("draft")
    with agent.page.expect_navigation():
        agent.page.click('form[action$="/act"] button[type=submit]')
    assert "已提交" in agent.text() or "已受理" in agent.text()
    case_id = case_url.rsplit("/", 1)[1]

    reviewer: Person = person_factory()  # type: ignore[operator]
    reviewer.log_in("reviewer1")
    reviewer.visit("/staff/queue")
    assert reviewer.page.locator(f'a[href="/staff/cases/{case_id}"]').count() == 1
    reviewer.check("queue")
    with reviewer.page.expect_navigation():
        reviewer.page.click(f'a[href="/staff/cases/{case_id}"]')
    reviewer.check("review")
    for action in ("accept", "start_review", "approve", "deliver"):
        if reviewer.page.locator(f'input[name="action"][value="{action}"]').count():
            _act(reviewer, action)
    assert "已办结" in reviewer.text() or "已送达" in reviewer.text()

    agent.visit(f"/me/cases/{case_id}")
    with agent.page.expect_navigation():
        agent.page.click(f'a[href="/cases/{case_id}/rate"]')
    agent.check("rate")
    agent.page.check('input[name="level"][value="5"]')
    agent.page.fill("#comment", "材料自动调取，一次就办好了")
    with agent.page.expect_navigation():
        agent.page.click("form.rate-form button[type=submit]")
    assert "感谢" in agent.text() or "已评价" in agent.text() or "修改评价" in agent.text()
    agent.check("rated")
