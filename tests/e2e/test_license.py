"""A resident opens a license in the wallet, lets a bank's desk see part of it once for a
loan check, sees the use recorded, and the second look is refused."""

from __future__ import annotations

import re

from tests.e2e.conftest import PASSWORD, Person


def test_see_and_share_a_license(person_factory: object) -> None:
    holder: Person = person_factory()  # type: ignore[operator]
    holder.log_in("citizen1")
    holder.visit("/me/licenses")
    holder.check("wallet")
    first = holder.page.locator('a[href^="/me/licenses/"]').first
    with holder.page.expect_navigation():
        first.click()
    identifier = holder.page.url.rsplit("/", 1)[1]
    holder.check("license")

    # A purpose left out: the page says so and nothing is granted.
    cards = holder.page.locator("#grants .grant-card").count()
    holder.page.fill("#grantee", "credit1")
    holder.page.fill("#purpose", "")
    holder.page.evaluate("() => document.getElementById('purpose').removeAttribute('required')")
    with holder.page.expect_navigation():
        holder.page.click('form[action$="/grants"] button[type=submit]')
    assert holder.page.locator("#share .error-summary").is_visible()
    assert holder.page.locator("#grants .grant-card").count() == cards
    holder.check("share-error")

    holder.page.fill("#grantee", "credit1")
    holder.page.fill("#purpose", "经营贷款资质审核")
    boxes = holder.page.locator('input[name="fields"]')
    if boxes.count() > 1:
        boxes.last.uncheck()  # share part of it
    holder.page.fill("#max_uses", "1")
    with holder.page.expect_navigation():
        holder.page.click('form[action$="/grants"] button[type=submit]')
    grant = holder.page.locator("#grants .grant-card").first
    assert "经营贷款资质审核" in grant.inner_text()
    action = grant.locator("form").get_attribute("action") or ""
    grant_id = re.search(r"/grants/(\d+)/withdraw", action).group(1)  # type: ignore[union-attr]
    holder.check("shared")

    # The bank's own system uses the grant through the API, with its desk's token.
    bank = holder.page.context.request
    token = bank.post(
        f"{holder.base}/api/v1/auth/token", data={"username": "credit1", "password": PASSWORD}
    ).json()["access_token"]
    url = f"{holder.base}/api/v1/grants/{grant_id}/licenses/{identifier}"
    used = bank.get(url, headers={"Authorization": f"Bearer {token}"})
    assert used.status == 200, used.text()
    assert "经营贷款资质审核" in str(used.json()["license"])  # the copy says whom it is for
    again = bank.get(url, headers={"Authorization": f"Bearer {token}"})
    assert again.status in (403, 409, 410), again.text()

    holder.page.reload()
    card = holder.page.locator("#grants .grant-card").first.inner_text()
    assert "1 / 1" in card  # 已用 1 / 1 次
    holder.check("used")
