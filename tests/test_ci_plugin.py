"""Under CI=true nothing skips: a test that cannot find what it needs fails (tests/ci_plugin.py)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]

PROBE = """
import pytest

def test_needs_something_absent():
    pytest.skip("redis-server is not installed")

@pytest.mark.xfail(reason="a known defect", strict=True)
def test_known_defect():
    assert False
"""


@pytest.fixture
def probe(pytester: pytest.Pytester, monkeypatch) -> pytest.Pytester:
    pytester.makepyfile(test_probe=PROBE)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the plugin is imported as tests.ci_plugin
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # only the plugin under test
    return pytester


def test_a_skip_fails_under_ci(probe, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = probe.runpytest_subprocess("-p", "tests.ci_plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, xfailed=1)
    result.stdout.fnmatch_lines(["*skipped under CI=true*redis-server is not installed*"])


def test_a_skip_stays_a_skip_outside_ci(probe, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = probe.runpytest_subprocess("-p", "tests.ci_plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1, xfailed=1)
