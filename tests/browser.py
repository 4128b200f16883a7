"""Headless Chromium for the tests that check what a person sees on a screen."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PIL import Image

CHROMIUM = shutil.which("chromium")


def screenshot(page: str | Path, out: Path, width: int, height: int = 1400) -> Image.Image:
    """The page (a URL, or a saved file) drawn at this window size, as RGB pixels. Saved
    files may load the static files they name (pages from a test client have no server)."""
    url = page.as_uri() if isinstance(page, Path) else page
    assert CHROMIUM, "Chromium is installed by .ci/run"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
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
