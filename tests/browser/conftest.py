from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(os.environ.get("FIELDBOOK_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output"))


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic", "--no-first-run"],
        )
        yield b
        b.close()


@pytest.fixture
def page_zh(browser: object) -> Iterator[object]:
    """A page at 1366×768 whose browser asks for Chinese."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT
