"""The OpenID Connect signing key: from the environment in production, created once on first use in
development (processes starting together agree on one key)."""

from __future__ import annotations

import multiprocessing
import os
import stat
from concurrent.futures import ProcessPoolExecutor

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
