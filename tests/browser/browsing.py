"""What the browser tests share: logging in to a page like a person, and screenshots."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def login(page: Any, base: str, username: str, password: str) -> None:
    """Fill the login form at ``base`` and wait until the app has moved past it."""
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: not url.split("?")[0].endswith("/login"))


def shot(page: Any, output_dir: Path, name: str) -> None:
    """A full-page screenshot ``<name>.png`` in the test output folder."""
    page.screenshot(path=str(output_dir / f"{name}.png"), full_page=True)
