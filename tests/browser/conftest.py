"""Real Chromium against a real server: the demo app with its worker, on a free loopback port."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import LiveServer, free_port, serving

from esimcare.kit.clock import SystemClock

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(make_context) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """A real clock: the worker must see grace periods and code lifetimes pass for real."""
    port = free_port()
    ctx = make_context(clock=SystemClock(), public_url=f"http://127.0.0.1:{port}")
    with serving(ctx, port) as server:
        yield server


@pytest.fixture
def phone(chromium):  # type: ignore[no-untyped-def]
    """A fresh phone-sized browser context per test (no shared cookies)."""
    context = chromium.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()
