"""The browser of the suite's browser tests (tests/e2e, tests/portal, ...): Playwright driving Debian's
Chromium (headless) against pytest-django's live server. Registered once in tests/conftest.py
(``pytest_plugins``), so there is one Playwright instance per run whichever directories run: its sync API
allows one per thread.

Playwright's sync API runs an event loop in this thread, which makes Django refuse database access from it
unless told that this is deliberate (the ORM calls in the tests are their own, never concurrent).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_server.url, locale="fr-FR", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if csp_violation(message.text) else None)
    yield page
    context.close()
    # A script or style the Content-Security-Policy blocks fails silently in the page: fail the test.
    assert refused == [], f"Content-Security-Policy violations: {refused}"


def csp_violation(text: str) -> bool:
    return text.startswith("Refused to") or "Content Security Policy" in text
