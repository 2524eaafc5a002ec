"""A pytest plugin: under ``CI=true`` a skipped test is a failed one (loaded by tests/conftest.py)."""

import os

import pytest


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under ``CI=true`` a test that cannot find what it needs (Redis, Chromium, ...) fails: it never
    skips, so a green CI means every test ran. Expected failures (xfail) keep their meaning."""
    outcome = yield
    report = outcome.get_result()
    if _ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must not happen: {reason}"
