"""Browser tests: Playwright driving Debian's Chromium (headless) against pytest-django's live server (the
browser itself: tests/browser_plugin.py).

Playwright's sync API runs an event loop in this thread, which makes Django refuse database access from it
unless told that this is deliberate (the ORM calls here are the test's own, never concurrent).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

# ``browser`` and ``page`` are tests/browser_plugin.py's, registered once for the whole suite (Playwright's
# sync API runs one instance per thread: two session fixtures would start two).
from tests.browser_plugin import CHROMIUM, csp_violation  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def outside_world(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The stations and the broker are the outside world: the live server (a thread of this process)
    records what it would hand them instead."""
    import notifications.services
    import orders.services

    scheduled: list[int] = []
    monkeypatch.setattr(orders.services, "_schedule_production", lambda order_id: scheduled.append(order_id))
    monkeypatch.setattr(notifications.services, "notification_enqueue", lambda *, notification_ids: None)
    return scheduled


def sign_in(page: Any, user: Any) -> None:
    """Sign in through the login form, as a person would (personas have no password until given one)."""
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    page.goto("/accounts/login/")
    page.get_by_label("Nom d’utilisateur").fill(user.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


UNLABELLED_CONTROLS = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button, a[href]'))
  .filter(el => {
    const byFor = el.id && document.querySelector(`label[for="${el.id}"]`);
    const named = byFor || el.closest('label') || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby') || el.textContent.trim();
    return !named;
  })
  .map(el => el.outerHTML)"""


def assert_accessible(page: Any) -> None:
    """The checks a keyboard or screen-reader user needs first: a language, one main heading, every control
    named, every picture titled, and the skip link as the first focusable element (first stop of Tab)."""
    assert page.locator("html").get_attribute("lang") in ("fr", "en")
    assert page.locator("h1").count() == 1
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    for picture in page.locator("svg[role=img]").all():
        assert picture.get_attribute("aria-labelledby") or picture.get_attribute("aria-label")
    first = """() => {
      const el = document.querySelector('a[href], button, input:not([type=hidden]), select, textarea');
      return el && el.closest('.fr-skiplinks') ? el.getAttribute('href') : el && el.outerHTML;
    }"""
    assert page.evaluate(first) == "#main"  # DSFR's skip links (fr-skiplinks), "Skip to content" first


# axe-core's rules for WCAG 2.1 A and AA (RGAA 4 follows them), and its best practices; a serious or critical
# violation fails the test, the rest is for the accessibility statement.
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
}
AXE_FAILING = ("serious", "critical")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical violations axe-core (bundled by axe-playwright-python) finds on the page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=AXE_OPTIONS)
    return [v for v in results.response["violations"] if v.get("impact") in AXE_FAILING]


def axe_report(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        rule = f"[{violation['impact']}] {violation['id']}: {violation['help']}"
        lines.append(f"{rule} ({violation['helpUrl']})")
        for node in violation["nodes"][:5]:
            lines.append(f"    at {' '.join(map(str, node['target']))}: {node.get('failureSummary', '')}")
            lines.append(f"       {node['html'][:200]}")
    return "\n".join(lines)


def assert_no_axe_violations(page: Any) -> None:
    """axe-core on the page as it is now: no serious or critical violation (rule id, where, and the help)."""
    violations = axe_violations(page)
    assert not violations, f"axe-core on {page.url}:\n{axe_report(violations)}"
