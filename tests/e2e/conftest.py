"""The portal as people use it: a demo node served as `make demo` serves it, driven by Playwright
in Debian's headless Chromium, each page checked by axe-core and photographed.

Every journey runs at a desktop width and at a 390 px phone width. Screenshots land in
`build/screenshots/` (the CI keeps them as artifacts); the README shows the best few, copied to
`docs/img/`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import CHROMIUM, CHROMIUM_FLAGS

ROOT = Path(__file__).resolve().parents[2]
E2E = Path(__file__).resolve().parent
AXE = E2E / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "screenshots"
PASSWORD = "Demo@2026"
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
# What a person is told must not be in the way: axe's two worst impact levels.
BLOCKING = ("serious", "critical")

playwright_api = pytest.importorskip("playwright.sync_api")
if CHROMIUM is None:
    pytest.skip("Chromium is installed by .ci/run", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ensure_axe() -> None:
    """axe-core comes from the npm registry, pinned by tests/e2e/package-lock.json."""
    if AXE.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is needed to install axe-core for the accessibility checks")
    subprocess.run(
        [npm, "ci", "--silent", "--no-audit", "--no-fund"], cwd=E2E, check=True, timeout=300
    )


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo node of its own (database, key file, catalog, demo people) on a free port."""
    folder = tmp_path_factory.mktemp("portal")
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TONGBAN_") or key == "TONGBAN_CATALOG_DIR"
    }
    # Journeys log in many times from one address: the per-address login limit is for the street.
    env["TONGBAN_LOGIN_RATE_PER_MINUTE"] = "10000"
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tongban",
            "demo",
            "--db",
            str(folder / "demo.db"),
            "--port",
            str(port),
        ],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(url, server, folder / "server.log")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_until_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the demo server stopped:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the demo server did not become ready:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    _ensure_axe()
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Person:
    """One person at one screen: a browser context of their own (cookies, viewport)."""

    page: Any
    base: str
    viewport: str
    journey: str
    shots: list[Path] = field(default_factory=list)

    def visit(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status < 400, (path, response and response.status)
        return response

    def check(self, name: str, *, enhanced_contrast: bool = False) -> Path:
        """The page as it is now: no serious accessibility problem, and a screenshot. With
        `enhanced_contrast` text must also meet WCAG's 7:1 (AAA), as the elder view promises."""
        self.page.wait_for_load_state("load")
        problems = axe_problems(self.page, enhanced_contrast=enhanced_contrast)
        assert problems == [], f"{self.page.url}:\n" + "\n".join(problems)
        return self.photo(name)

    def photo(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        out = SCREENSHOTS / f"{self.journey}-{name}-{self.viewport}.png"
        self.page.screenshot(path=str(out), full_page=True)
        self.shots.append(out)
        return out

    def log_in(self, username: str) -> None:
        self.visit("/login")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        with self.page.expect_navigation():
            self.page.click("form.stack-form button[type=submit]")
        assert "/login" not in self.page.url, self.page.inner_text("main")

    def text(self) -> str:
        return str(self.page.inner_text("main"))


@cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_problems(page: Any, *, enhanced_contrast: bool = False) -> list[str]:
    """axe-core's serious and critical violations on the page, one line per element."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the driver, not as a <script>: the portal's CSP allows no inline
        # script, and the check must not loosen what it checks.
        page.evaluate(_axe_source())
    result = page.evaluate(
        """async (enhanced) => {
            const rules = {'color-contrast-enhanced': {enabled: enhanced}};
            const r = await axe.run(document, {resultTypes: ['violations'], rules});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ' ' + n.failureSummary)}));
        }""",
        enhanced_contrast,
    )
    return [
        f"{v['impact']} {v['id']} ({v['help']}): {node}"
        for v in result
        if v["impact"] in BLOCKING or (enhanced_contrast and v["id"] == "color-contrast-enhanced")
        for node in v["nodes"]
    ]


@pytest.fixture
def person_factory(
    chromium: Any, portal: str, viewport: str, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """`person()` opens a new browser context (a person of their own) at this viewport."""
    contexts: list[Any] = []
    journey = re.sub(r"^test_", "", request.node.originalname)

    def person(**options: Any) -> Person:
        context = chromium.new_context(**{"locale": "zh-CN", **VIEWPORTS[viewport], **options})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return Person(context.new_page(), portal, viewport, journey)

    yield person
    for context in contexts:
        context.close()


@pytest.fixture
def person(person_factory: Any) -> Person:
    return person_factory()  # type: ignore[no-any-return]


PDF = b"%PDF-1.4\n% a scanned material\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# Valid-format identifiers that belong to nobody (check characters computed).
MADE_UP = {
    "id_number": "310101194803124297",
    "uscc": "91310000MA1FL8TQ36",
    "phone": "13800138000",
    "postal_code": "200000",
}


def fill_empty_fields(form: Any) -> int:
    """Fill what the person would still have to type, the way a careful person would: every
    empty field of the form gets a valid made-up value. Returns how many were filled."""
    filled = 0
    for field_ in form.locator("input:not([type=hidden]):not([type=file]), select").all():
        name = field_.get_attribute("name") or ""
        kind = field_.get_attribute("type") or ""
        tag = field_.evaluate("e => e.tagName.toLowerCase()")
        if kind in ("radio", "checkbox", "submit"):
            continue
        if tag == "select":
            if not field_.input_value():
                field_.select_option(index=1)
                filled += 1
            continue
        if field_.input_value():
            continue
        for suffix, value in MADE_UP.items():
            if name.endswith(suffix):
                field_.fill(value)
                break
        else:
            field_.fill(_made_up_text(kind, field_.get_attribute("inputmode") or ""))
        filled += 1
    return filled


def _made_up_text(kind: str, inputmode: str) -> str:
    if kind == "date":
        return "2026-11-20"
    if kind == "tel":
        return "13800138000"
    if inputmode in ("decimal", "numeric"):
        return "1"
    return "测试填写"


def upload_every_paper(person: Person, form_selector: str = 'form[action$="/materials"]') -> int:
    """Upload a PDF for every material the page asks for, one after another (each reloads)."""
    papers = person.page.locator(f"{form_selector}:has(input[type=file]) input[name=material]")
    keys = [key.get_attribute("value") for key in papers.all()]
    for key in keys:
        form = person.page.locator(f'{form_selector}:has(input[name=material][value="{key}"])')
        form.locator("input[type=file]").set_input_files(
            {"name": "材料.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        with person.page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert person.page.locator(".error-summary, .notice-error").count() == 0, person.text()
    return len(keys)
