"""The holder's code page (refreshing without a reload), paper code, history; the scanner page."""

from __future__ import annotations

import io
import re

import pypdfium2
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image

from tests.idcode.conftest import World
from tests.identity.test_pages import HTML, csrf_of, portal_login
from tongban.idcode import render


def browser(world: World, user: str) -> TestClient:
    client = TestClient(world.client.app)
    assert portal_login(client, user).status_code == 303
    return client


def test_my_code_page_shows_a_live_code_and_refreshes_it(world: World) -> None:
    client = browser(world, "citizen1")
    page = client.get("/me/code", headers=HTML)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "<svg" in page.text
    assert 'data-ttl="60"' in page.text
    assert '<script src="/static/js/code.js"' in page.text
    assert '<noscript><meta http-equiv="refresh" content="50"></noscript>' in page.text
    assert re.search(r'<img class="code-photo" src="/me/photo/[0-9a-f]{32}"', page.text)
    csrf = re.search(r'data-csrf="([^"]+)"', page.text)
    assert csrf
    refused = client.post("/me/code/next")
    assert refused.status_code == 403
    fresh = client.post("/me/code/next", headers={"x-csrf-token": csrf.group(1)})
    assert fresh.status_code == 200
    body = fresh.json()
    assert body["expires_in"] == 60
    assert body["token"].startswith("TB")
    assert world.scan("hospital", body["token"]).status_code == 200
    photo = re.search(r'src="(/me/photo/[0-9a-f]{32})"', page.text)
    assert photo
    assert client.get(photo.group(1)).status_code == 200
    other = browser(world, "citizen2")
    assert other.get(photo.group(1)).status_code == 404


def test_the_script_is_served(world: World) -> None:
    script = world.client.get("/static/js/code.js")
    assert script.status_code == 200
    assert "x-csrf-token" in script.text


def test_an_agent_switches_to_the_enterprise_code(world: World) -> None:
    client = browser(world, "enterprise1")
    page = client.get("/me/code?subject=enterprise", headers=HTML)
    assert page.status_code == 200
    assert "法人码" in page.text
    assert "上海浦江便利店" in page.text


def test_the_code_page_needs_a_login(world: World) -> None:
    r = TestClient(world.client.app).get("/me/code", headers=HTML, follow_redirects=False)
    assert r.status_code in (303, 307)
    assert "/login" in r.headers["location"]


def test_paper_code_page_issue_print_and_revoke(world: World) -> None:
    client = browser(world, "citizen2")
    page = client.get("/me/code/paper", headers=HTML)
    assert "生成纸质码" in page.text or "补打新码" in page.text
    issued = client.post(
        "/me/code/paper",
        data={"csrf_token": csrf_of(page.text), "action": "issue"},
        headers=HTML,
    )
    assert issued.status_code == 200  # followed the redirect back to the page
    assert "下载打印" in issued.text
    pdf = client.get("/me/code/paper.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    image = pypdfium2.PdfDocument(pdf.content)[0].render(scale=3).to_pil()
    (token,) = [
        r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    ]
    assert token.startswith("TB")
    revoked = client.post(
        "/me/code/paper",
        data={"csrf_token": csrf_of(issued.text), "action": "revoke"},
        headers=HTML,
    )
    assert "下载打印" not in revoked.text
    assert client.get("/me/code/paper.pdf").status_code == 404


def test_the_scan_history_page_names_the_scanner(world: World) -> None:
    token = world.code("citizen1")["token"]
    world.scan("culture", token)
    page = browser(world, "citizen1").get("/me/code/scans", headers=HTML)
    assert "测试扫码点-culture" in page.text
    assert "姓名（部分隐藏）" in page.text


def test_the_scanner_page_reads_a_pasted_code(world: World) -> None:
    client = browser(world, "hotel1")
    page = client.get("/scan", headers=HTML)
    assert 'value="hotel"' in page.text
    assert 'value="metro"' not in page.text
    token = world.code("citizen1")["token"]
    result = client.post(
        "/scan", data={"csrf_token": csrf_of(page.text), "scene": "hotel", "token": token}
    )
    assert result.status_code == 200
    assert "✓ 码有效" in result.text
    assert "公民身份号码" in result.text
    photo = re.search(r'src="(/scan/photo/hotel/[0-9a-f]{32})"', result.text)
    assert photo
    assert client.get(photo.group(1)).status_code == 200
    again = client.post(
        "/scan", data={"csrf_token": csrf_of(page.text), "scene": "hotel", "token": token}
    )
    assert again.status_code == 409
    assert "该码已在本场景使用过" in again.text


def test_the_scanner_page_reads_a_photo_of_a_code(world: World) -> None:
    client = browser(world, "metro1")
    csrf = csrf_of(client.get("/scan", headers=HTML).text)
    token = world.code("citizen1")["token"]
    image = Image.open(io.BytesIO(render.qr_png(token))).convert("RGB")
    buffer = io.BytesIO()
    image.resize((image.width * 3, image.height * 3)).save(buffer, "JPEG", quality=80)
    result = client.post(
        "/scan",
        data={"csrf_token": csrf, "scene": "metro"},
        files={"photo_file": ("code.jpg", buffer.getvalue(), "image/jpeg")},
    )
    assert result.status_code == 200, result.text
    assert "本场景只核验码是否有效" in result.text
    junk = client.post(
        "/scan",
        data={"csrf_token": csrf, "scene": "metro"},
        files={"photo_file": ("x.jpg", b"\x00\x01not an image", "image/jpeg")},
    )
    assert junk.status_code == 422
    assert "无法读取该图片" in junk.text


def test_citizens_cannot_open_the_scanner(world: World) -> None:
    r = browser(world, "citizen1").get("/scan", headers=HTML)
    assert r.status_code == 403
