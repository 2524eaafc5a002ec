"""The OpenID Connect signing key: from the environment in production, created once on first use in
development (processes starting together agree on one key)."""

from __future__ import annotations

import ast
import multiprocessing
import os
import stat
import tomllib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from oauth2_provider.settings import oauth2_settings

import config.settings
from ecps import keys


def _read(path: str) -> str:
    keys.private_key_pem.cache_clear()
    return keys.private_key_pem(path)


def test_it_creates_a_private_key_file_readable_by_the_owner_only(tmp_path):
    path = tmp_path / "pki" / "oidc.pem"
    pem = _read(str(path))
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _read(str(path)) == pem  # kept, not regenerated
    assert [p.name for p in path.parent.iterdir()] == ["oidc.pem"]  # no temporary file left


def test_processes_starting_together_agree_on_one_key(tmp_path):
    path = str(tmp_path / "oidc.pem")
    # spawn, not fork: a forked child inherits the test's broker connections and can hang closing them.
    with ProcessPoolExecutor(max_workers=4, mp_context=multiprocessing.get_context("spawn")) as pool:
        pems = set(pool.map(_read, [path] * 8))
    assert len(pems) == 1


def test_the_lazy_key_is_read_only_when_used(tmp_path):
    path = tmp_path / "lazy.pem"
    lazy = keys.lazy_private_key_pem(path)
    assert not path.exists()
    assert "PRIVATE KEY" in str(lazy) and path.exists()


def test_the_provider_gets_the_files_key_only_when_the_environment_gives_none(tmp_path):
    path = tmp_path / "oidc.pem"
    given = {"OIDC_RSA_PRIVATE_KEY": "the environment's PEM"}
    keys.provide(given, path)
    assert given["OIDC_RSA_PRIVATE_KEY"] == "the environment's PEM"
    none = {"OIDC_RSA_PRIVATE_KEY": ""}
    keys.provide(none, path)
    assert not path.exists()  # still lazy: read or created at first use
    assert str(none["OIDC_RSA_PRIVATE_KEY"]) == path.read_text()


def test_the_running_provider_signs_with_the_platforms_key():
    pem = str(oauth2_settings.OIDC_RSA_PRIVATE_KEY)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----") or pem.startswith("-----BEGIN RSA PRIVATE KEY")


def test_the_settings_import_no_app_code():
    """Only the environment and config's own helpers: the apps are the layers pyproject.toml declares."""
    root = Path(config.settings.__file__).parents[1]
    layers = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]
    tree = ast.parse(Path(config.settings.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "ecps" in layers
    assert {name.split(".")[0] for name in imported} & (set(layers) - {"config"}) == set()
