"""The public page's charts as a person sees them: served by a real server, drawn by headless
Chromium, and measured in the screenshot (the distribution bar's coloured runs stand in the
ratio of the ratings)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from PIL import Image
from sqlalchemy import select

from tests.browser import CHROMIUM, screenshot
from tests.idcode.conftest import World
from tongban.app import create_app
from tongban.identity.models import Account
from tongban.ratings.models import Rating

GREEN = (30, 123, 52)  # 非常满意
RED = (192, 57, 43)  # 非常不满意
LEVELS = [5, 5, 5, 1, 1, 4]  # three very satisfied, two very dissatisfied, one satisfied


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(rated: World) -> Iterator[str]:
    with rated.session() as session:
        person = session.scalar(select(Account.person_id).where(Account.username == "citizen2"))
        assert person is not None
        for n, level in enumerate(LEVELS):
            session.add(
                Rating(
                    subject="case",
                    subject_id=800_000 + n,
                    rater_person_id=person,
                    level=level,
                    indicators={},
                    channel="web",
                    department_key="sh-scjgj",
                    hall_key=rated.hall_key,
                    matter_code="99P999999998",
                    matter_name="图表测试事项",
                    month="2002-03",
                    excluded=False,
                    changes=0,
                )
            )
        session.commit()
    port = _free_port()
    app = create_app(rated.settings, rated.engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _longest_run(image: Image.Image, colour: tuple[int, int, int]) -> int:
    """The longest horizontal run of exactly this colour: a bar's drawn length in pixels."""
    pixels = image.load()
    assert pixels is not None
    best = 0
    for y in range(image.height):
        run = 0
        for x in range(image.width):
            run = run + 1 if pixels[x, y] == colour else 0
            best = max(best, run)
    return best


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is installed by .ci/run")
def test_the_distribution_bar_is_drawn_in_proportion(served: str, tmp_path: Path) -> None:
    image = screenshot(f"{served}/ratings", tmp_path / "ratings.png", 1000)
    green, red = _longest_run(image, GREEN), _longest_run(image, RED)
    assert green > 100, "the 非常满意 part of the bar is not drawn"
    assert abs(green / red - 3 / 2) < 0.05, (green, red)
    phone = screenshot(f"{served}/ratings", tmp_path / "phone.png", 390)
    assert 0 < _longest_run(phone, GREEN) <= 390
