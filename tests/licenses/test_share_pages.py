"""用证授权 from the license page: a grant made and withdrawn in the portal, and every bad form
refused with the page's own words and no grant written."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.idcode.conftest import World
from tests.identity.test_pages import HTML, csrf_of
from tests.licenses.test_pages import browser
from tongban.licenses.models import LicenseGrant


def _license_page(world: World) -> tuple[object, str, str]:
    client = browser(world, "citizen1")
    wallet = client.get("/me/licenses", headers=HTML).text
    identifier = re.search(r'href="/me/licenses/([^"/]+)"', wallet).group(1)  # type: ignore[union-attr]
    page = client.get(f"/me/licenses/{identifier}", headers=HTML)
    return client, identifier, page.text


def _grants(world: World) -> int:
    with world.session() as session:
        return int(session.scalar(select(func.count()).select_from(LicenseGrant)) or 0)


GOOD = {
    "grantee_kind": "account",
    "grantee": "credit1",
    "purpose": "经营贷款资质审核",
    "days": "7",
    "max_uses": "1",
}


def test_a_grant_made_and_withdrawn_on_the_license_page(world: World) -> None:
    client, identifier, page = _license_page(world)
    fields = re.findall(r'name="fields" value="([^"]+)"', page)
    assert fields
    before = _grants(world)
    made = client.post(  # type: ignore[attr-defined]
        f"/me/licenses/{identifier}/grants",
        data={"csrf_token": csrf_of(page), **GOOD, "fields": fields[:1]},
        headers=HTML,
        follow_redirects=False,
    )
    assert made.status_code == 303 and "shared=" in made.headers["location"]
    assert _grants(world) == before + 1
    shown = client.get(f"/me/licenses/{identifier}", headers=HTML).text  # type: ignore[attr-defined]
    assert "经营贷款资质审核" in shown and "部分项目" in shown
    grant_id = re.search(r"/grants/(\d+)/withdraw", shown).group(1)  # type: ignore[union-attr]
    gone = client.post(  # type: ignore[attr-defined]
        f"/me/licenses/{identifier}/grants/{grant_id}/withdraw",
        data={"csrf_token": csrf_of(shown)},
        headers=HTML,
        follow_redirects=False,
    )
    assert gone.status_code == 303
    assert "已撤回" in client.get(f"/me/licenses/{identifier}", headers=HTML).text  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"purpose": ""}, "purpose"),
        ({"grantee": ""}, "grantee"),
        ({"grantee": "nobody-here"}, "unknown_grantee"),
        ({"grantee_kind": "region"}, "grantee"),
        ({"days": "0"}, "days"),
        ({"days": "abc"}, "days"),
        ({"max_uses": "-1"}, "max_uses"),
        ({"max_uses": "1%"}, "max_uses"),
        ({"fields": ["no_such_field"]}, "unknown_field"),
        ({"fields": []}, "fields"),
    ],
)
def test_a_bad_grant_is_refused_by_name_and_writes_nothing(
    world: World, change: dict[str, object], refusal: str
) -> None:
    client, identifier, page = _license_page(world)
    fields = re.findall(r'name="fields" value="([^"]+)"', page)
    before = _grants(world)
    sent = client.post(  # type: ignore[attr-defined]
        f"/me/licenses/{identifier}/grants",
        data={"csrf_token": csrf_of(page), **GOOD, "fields": fields, **change},
        headers=HTML,
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"].endswith(f"error={refusal}#share")
    assert _grants(world) == before
    shown = client.get(sent.headers["location"], headers=HTML)  # type: ignore[attr-defined]
    assert shown.status_code == 200 and 'class="error-summary"' in shown.text


def test_someone_elses_license_or_grant_is_not_found(world: World) -> None:
    client, identifier, page = _license_page(world)
    other = browser(world, "citizen2")
    theirs = other.get(f"/me/licenses/{identifier}", headers=HTML)
    assert theirs.status_code == 404
    for path in (
        f"/me/licenses/{identifier}/grants",
        f"/me/licenses/{identifier}/grants/1/withdraw",
    ):
        refused = other.post(path, data={"csrf_token": csrf_of(page), **GOOD}, headers=HTML)
        assert refused.status_code in (403, 404)
    missing = client.post(  # type: ignore[attr-defined]
        f"/me/licenses/{identifier}/grants/2147483000/withdraw",
        data={"csrf_token": csrf_of(page)},
        headers=HTML,
        follow_redirects=False,
    )
    assert missing.headers["location"].endswith("error=grant_not_found")
