"""The agent without its PKCS#11 module, with OpenSC's and no reader, and on its own (no platform code)."""

import subprocess
import sys

from .conftest import AGENT, REPO


def _run(*args, env):
    return subprocess.run([str(AGENT), *args], env=env, capture_output=True, text=True, timeout=60)


def test_without_opensc_it_says_what_to_install(store, tmp_path):
    missing = str(tmp_path / "opensc-pkcs11.so")
    for args, env in (
        (["--module", missing, "show"], store.env()),
        (["show"], store.env(CPX_CARD_MODULE=missing)),
        (["sign", "--module", missing, "x"], store.env()),
    ):
        result = _run(*args, env=env)
        assert result.returncode == 1, result
        assert f"Module PKCS#11 introuvable : {missing}" in result.stderr
        assert "installez OpenSC" in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""


def test_with_opensc_and_no_reader_it_asks_for_the_card(store):
    """OpenSC's module, the default (installed by scripts/ensure_system.sh), without a reader here."""
    result = _run("show", env=store.env())
    assert result.returncode == 1, result.stderr
    assert "Aucune carte dans les lecteurs" in result.stderr


def test_usage_errors_exit_1_not_2():
    result = _run("sign", env=None)
    assert result.returncode == 1 and "usage:" in result.stderr


def test_the_agent_loads_no_platform_code():
    script = (
        "import sys, cpxcard.cli, cpxcard.card, cpxcard.helpdesk, cpxcard.holder, cpxcard.simulated\n"
        "platform = {'django', 'core', 'cards', 'stations', 'pki', 'lifecycle', 'config', 'portal'}\n"
        "print(sorted(platform & {name.split('.')[0] for name in sys.modules}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
