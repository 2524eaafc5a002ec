"""The OpenID Connect signing key (RS256): from the environment in production, generated on first use in
development. The settings hold only the environment's key and the file's path; ``provide`` (called by
``ecps.apps`` at start-up) hands django-oauth-toolkit the file's key when the environment gives none."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils.functional import lazy


@functools.lru_cache(maxsize=4)
def private_key_pem(path: str) -> str:
    """The PEM of the key in ``path``, created (mode 0600) if the file does not exist yet.

    Creation is exclusive (O_EXCL on a temporary name, then a hard link): processes starting together
    agree on one key, the loser reads the winner's file."""
    file = Path(path)
    if not file.exists():
        _create(file)
    return file.read_text()


def _create(file: Path) -> None:
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = file.with_name(f".{file.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    try:
        os.link(tmp, file)
    except FileExistsError:
        pass  # another process won: use its key
    finally:
        tmp.unlink()


def lazy_private_key_pem(path: Path) -> str:
    """A string that reads (or creates) the key only when it is first used."""
    return lazy(private_key_pem, str)(str(path))  # type: ignore[return-value]


def provide(provider: dict[str, Any], path: Path) -> None:
    """Without a key of its own, the provider's settings (``OAUTH2_PROVIDER``, the dict django-oauth-toolkit
    reads its ``OIDC_RSA_PRIVATE_KEY`` from at first use) get the key in ``path``, read or created lazily."""
    if not provider.get("OIDC_RSA_PRIVATE_KEY"):
        provider["OIDC_RSA_PRIVATE_KEY"] = lazy_private_key_pem(path)
