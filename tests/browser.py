"""Headless Chromium for the tests that check what a person sees on a screen."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PIL import Image

CHROMIUM = shutil.which("chromium")
# As root on a machine with no network beyond its own services: no sandbox, no GPU, and none
# of the background connections that a closed network refuses many at a time.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def screenshot(page: str | Path, out: Path, width: int, height: int = 1400) -> Image.Image:
    """The page (a URL, or a saved file) drawn at this window size, as RGB pixels. Saved
    files may load the static files they name (pages from a test client have no server)."""
    url = page.as_uri() if isinstance(page, Path) else page
    assert CHROMIUM, "Chromium is installed by .ci/run"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            *CHROMIUM_FLAGS,
            "--hide-scrollbars",
            "--allow-file-access-from-files",
            f"--user-data-dir={out.parent / 'profile'}",
            f"--window-size={width},{height}",
            f"--screenshot={out}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return Image.open(out).convert("RGB")
