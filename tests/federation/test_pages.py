"""The pages of 跨省通办 as people see them: a citizen fetches their Jiangsu licenses with a
plain form (no JavaScript) and withdraws the consent; a forwarded case says who handles it;
the administrator sees the peers, queues and dead letters. Drawn by headless Chromium on a
phone's width and in 长辈版."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.browser import CHROMIUM, screenshot
from tests.cases.helpers import filled
from tests.federation.conftest import JS, Node, Regions
from tests.identity.test_pages import HTML, csrf_of, portal_login
from tongban.portal.rendering import STATIC_DIR

NO_RECORD = "20P901000001"
# Set to write the screenshots where the documentation keeps them (docs/img).
SHOTS = os.environ.get("TONGBAN_SCREENSHOTS_DIR")


def browser(node: Node, user: str) -> TestClient:
    client = TestClient(node.client.app)
    r = portal_login(client, user)
    assert r.status_code == 303, r.text
    return client


def _fetch_on_the_page(regions: Regions) -> TestClient:
    web = browser(regions.sh, "citizen3")
    page = web.get("/me/peer-licenses", headers=HTML)
    assert page.status_code == 200
    assert "江苏省" in page.text  # the peer is offered
    done = web.post(
        "/me/peer-licenses/fetch",
        data={
            "region": JS,
            "purpose": "在本市办事时免于提交纸质证照",
            "days": "90",
            "csrf_token": csrf_of(page.text),
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert re.search(r"fetched=\d+", done.headers["location"])
    return web


def test_a_citizen_fetches_and_sees_their_licenses_of_another_region(regions: Regions) -> None:
    web = _fetch_on_the_page(regions)
    page = web.get("/me/peer-licenses?fetched=3", headers=HTML)
    assert "已调取 3 个电子证照" in page.text
    for name in ("结婚证", "居民户口簿", "居民身份证"):
        assert name in page.text
    assert "本地办事可免提交" in page.text
    assert "苏州市民政局" in page.text
    assert "撤回授权" in page.text
    link = re.search(r'href="(/me/peer-licenses/[^"]+/json)"', page.text)
    assert link
    document = web.get(link.group(1), headers=HTML)
    assert document.status_code == 200
    assert document.json()["signature"]["alg"] == "SM2-SM3"  # as Jiangsu signed it
    consent = re.search(r'action="/me/peer-consents/([0-9a-f]{32})/withdraw"', page.text)
    assert consent
    gone = web.post(
        f"/me/peer-consents/{consent.group(1)}/withdraw",
        data={"csrf_token": csrf_of(page.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert gone.status_code == 303
    assert "已于" in web.get("/me/peer-licenses", headers=HTML).text  # withdrawn on …


def test_the_form_refuses_without_its_csrf_token(regions: Regions) -> None:
    web = browser(regions.sh, "citizen3")
    r = web.post(
        "/me/peer-licenses/fetch",
        data={"region": JS, "purpose": "在本市办事时免于提交纸质证照"},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_a_forwarded_case_says_which_region_handles_it(regions: Regions) -> None:
    sh = regions.sh
    made = sh.client.post(
        "/api/v1/cases",
        json={"matter": NO_RECORD, "form": filled(sh, NO_RECORD, "citizen3"), "delivery": "pickup"},
        headers=sh.auth("citizen3") | {"idempotency-key": "page-forward-1"},
    )
    assert made.status_code == 201, made.text
    regions.pump()
    web = browser(sh, "citizen3")
    page = web.get(f"/me/cases/{made.json()['id']}", headers=HTML)
    assert page.status_code == 200
    assert "本事项由<strong>江苏省</strong>办理" in page.text
    assert "江苏省办件编号 TB" in page.text
    guide = web.get(f"/matters/{NO_RECORD}", headers=HTML)
    assert "跨省通办" in guide.text


def test_the_administrator_sees_peers_queues_and_dead_letters(regions: Regions) -> None:
    web = browser(regions.sh, "admin")
    page = web.get("/admin/federation", headers=HTML)
    assert page.status_code == 200
    assert "江苏省（320000）" in page.text
    assert "根密钥指纹" in page.text
    assert "没有死信" in page.text or "重新发送" in page.text
    citizen = browser(regions.sh, "citizen3")
    assert citizen.get("/admin/federation", headers=HTML).status_code == 403


def _static_html(html: str, folder: Path, name: str) -> Path:
    """The page as served, its stylesheet read from the package (a file the browser opens
    without a server or a login cookie)."""
    page = folder / f"{name}.html"
    page.write_text(html.replace('href="/static/', f'href="file://{STATIC_DIR}/'))
    return page


def _inked_width(image: Image.Image) -> int:
    """How far right anything but the page background is drawn (a page wider than the
    phone would be cut off at its edge)."""
    background = image.getpixel((image.width - 1, image.height - 1))
    right = 0
    for y in range(0, image.height, 4):
        for x in range(image.width - 1, right, -1):
            if image.getpixel((x, y)) != background:
                right = max(right, x)
                break
    return right


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is installed by .ci/run")
def test_the_pages_fit_a_phone_and_elder_mode(regions: Regions, tmp_path: Path) -> None:
    web = _fetch_on_the_page(regions)
    out = Path(SHOTS) if SHOTS else tmp_path
    shots = {
        "federation-licenses-mobile": (web.get("/me/peer-licenses", headers=HTML).text, 390),
        "federation-licenses-elder": (
            web.get("/me/peer-licenses?mode=elder", headers=HTML).text,
            390,
        ),
        "federation-admin": (
            browser(regions.sh, "admin").get("/admin/federation", headers=HTML).text,
            1100,
        ),
    }
    for name, (html, width) in shots.items():
        image = screenshot(
            _static_html(html, tmp_path, name), out / f"{name}.png", width, height=1500
        )
        assert image.width == width
        assert _inked_width(image) > width // 2, f"{name} is blank"
    # Larger type in 长辈版: the same page is longer (measured on a screen taller than both).
    tall = {
        name: screenshot(
            _static_html(shots[name][0], tmp_path, name),
            tmp_path / f"{name}-tall.png",
            390,
            height=4000,
        )
        for name in ("federation-licenses-mobile", "federation-licenses-elder")
    }
    assert _page_height(tall["federation-licenses-elder"]) > 1.1 * _page_height(
        tall["federation-licenses-mobile"]
    )


def _page_height(image: Image.Image) -> int:
    """Where the page ends: the last row of the footer, below which the window is empty."""
    empty = image.getpixel((image.width // 2, image.height - 1))
    for y in range(image.height - 1, 0, -1):
        if image.getpixel((image.width // 2, y)) != empty:
            return y
    return 0
