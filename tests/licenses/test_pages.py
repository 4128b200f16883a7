"""The license wallet in the portal: the list, one license with its history, the downloads."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.idcode.conftest import World
from tests.identity.test_pages import HTML, portal_login
from tongban.licenses.document import verify_document
from tongban.licenses.service import today, trust_lists


def browser(world: World, user: str) -> TestClient:
    client = TestClient(world.client.app)
    assert portal_login(client, user).status_code == 303
    return client


def test_the_wallet_lists_an_agents_enterprise_licenses(world: World) -> None:
    page = browser(world, "enterprise1").get("/me/licenses", headers=HTML)
    assert page.status_code == 200
    assert "营业执照" in page.text
    assert "食品经营许可证" in page.text
    assert "有效" in page.text


def test_one_license_with_history_and_a_download_that_verifies(world: World) -> None:
    client = browser(world, "citizen1")
    wallet = client.get("/me/licenses", headers=HTML).text
    assert "居民身份证" in wallet
    start = wallet.index('href="/me/licenses/') + len('href="/me/licenses/')
    identifier = wallet[start : wallet.index('"', start)]
    page = client.get(f"/me/licenses/{identifier}", headers=HTML)
    assert page.status_code == 200
    assert "签发" in page.text
    assert "民族" in page.text  # the content's labels come from the data elements
    downloaded = client.get(f"/me/licenses/{identifier}/json")
    assert "attachment" in downloaded.headers["content-disposition"]
    document = json.loads(downloaded.text)
    registry = world.client.app.state.licenses  # type: ignore[attr-defined]
    with world.session() as session:
        lists = trust_lists(session, registry)
    assert verify_document(document, lists, today=today(), status="01").valid
    assert client.get(f"/me/licenses/{identifier}/pdf").content.startswith(b"%PDF")
    other = browser(world, "citizen2").get(f"/me/licenses/{identifier}", headers=HTML)
    assert other.status_code == 404
