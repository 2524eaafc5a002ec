"""The signing request: what a station sends the signing service to have the keys of a card certified.

A station never holds a CA key. Once the keys are generated on the card, it sends the public keys, each with
a proof of possession signed by that very card key, in a request signed with the station's own credential
(an Ed25519 key registered by ``station_register``). The signing service (``stations.certification``)
checks all of it against the database and certifies only the station's own job, for the order's holder.

The request (version 1), a JSON object serialized canonically (``canonical``: sorted keys, no spaces,
UTF-8)::

    {"v": 1, "id": "<uuid4>", "station": "<name>", "job": <PersonalizationJob id>, "order": <Order id>,
     "card_number": "<the blank's number>", "keys": {"auth": "<base64 SPKI DER>", "sign": "..."},
     "proofs": {"auth": "<base64 signature>", "sign": "..."}, "issued_at": "<ISO 8601, UTC>"}

The envelope: ``{"request": "<the canonical JSON text>", "signature": "<base64 Ed25519 signature of
that text's UTF-8 bytes by the station key>"}``. The service verifies the signature over the text it
received, then parses that same text: there is nothing else to trust.

The proof of possession of a card key (``proof_message``) is a signature by the card key (SHA256-RSA-PKCS
on an RSA card, ECDSA-SHA256 on an EC one) over the UTF-8 bytes of::

    cpx-card-key-proof/v1|<request id>|<station>|<job>|<card number>|<usage>|<hex SHA-256 of the SPKI DER>

so a proof made for one request, job, card, usage or key is worth nothing for another.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.conf import settings

from . import tokens

VERSION = 1
PROOF_CONTEXT = "cpx-card-key-proof/v1"
KEY_FILE_NAME = "station-key.pem"


class NoStationCredential(tokens.TokenError):
    """The station has no registered key (or its key file is missing): it cannot get certificates."""


class CertificationRefused(tokens.TokenError):
    """The signing service refused the request (its reason code is in the audit row and the message)."""

    def __init__(self, reason: str):
        super().__init__(f"the signing service refused the request: {reason}")
        self.reason = reason


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not a base64 string")
    return base64.b64decode(text.encode("ascii"), validate=True)


def spki_der(public_key: Any) -> bytes:
    return bytes(
        public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def proof_message(
    *, request_id: str, station: str, job: int, card_number: str, usage: str, spki: bytes
) -> bytes:
    digest = hashlib.sha256(spki).hexdigest()
    parts = [PROOF_CONTEXT, request_id, station, str(job), card_number, usage, digest]
    return "|".join(parts).encode()


def card_valid_until(start: dt.date, years: int) -> dt.date:
    """The last day of a card's validity (and of its certificates): ``years`` after ``start``, minus a day."""
    try:
        return start.replace(year=start.year + years) - dt.timedelta(days=1)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


# --- the station's credential -------------------------------------------------------------------------


def default_key_path(name: str) -> Path:
    root = Path(getattr(settings, "CPX_STATIONS_DIR", settings.VAR_DIR / "stations"))
    return root / name / KEY_FILE_NAME


def key_path(name: str, key_file: str = "") -> Path:
    return Path(key_file) if key_file else default_key_path(name)


def generate_key_file(path: Path) -> ed25519.Ed25519PrivateKey:
    """A new Ed25519 station key, written as PKCS#8 PEM readable by its owner only (0600)."""
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def load_key_file(path: Path) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise NoStationCredential(f"{path} is not an Ed25519 private key")
    return key


_keys: dict[tuple[str, float], ed25519.Ed25519PrivateKey] = {}
_keys_lock = threading.Lock()


def station_key(name: str, key_file: str = "") -> ed25519.Ed25519PrivateKey:
    """The station's private key, read once per process (again if the file changes)."""
    path = key_path(name, key_file)
    try:
        stamp = path.stat().st_mtime
    except FileNotFoundError:
        raise NoStationCredential(f"station {name}: no key file {path} (run station_register)") from None
    with _keys_lock:
        key = _keys.get((str(path), stamp))
        if key is None:
            key = load_key_file(path)
            _keys[(str(path), stamp)] = key
        return key


def seal(request: dict[str, Any], key: ed25519.Ed25519PrivateKey) -> dict[str, str]:
    """The envelope of a request: its canonical text and the station's signature of it."""
    text = canonical(request)
    return {"request": text, "signature": b64(key.sign(text.encode()))}
