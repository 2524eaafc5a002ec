"""Talking to cards through PKCS#11: the only module that knows about tokens, slots and sessions.

The same code drives SoftHSM2 (development and tests: each uninitialized token slot is a blank card) and
OpenSC's module (production readers). python-pkcs11 0.10.1 lacks C_InitToken and C_CloseAllSessions, so
those two calls go through ctypes on the *same* loaded library (dlopen returns the same handle, so the
module's state, initialized by python-pkcs11, is shared).

The platform never logs into a card once it has left the station: SoftHSM2 has no PIN-retry counter, so the
holder's agent (``cpxcard``) keeps the three-tries rule for development cards; real cards count on the chip.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import NoSuchToken, TokenNotRecognised

CKR_OK = 0
KEY_LABELS = {"auth": "CPS_AUTH", "sign": "CPS_SIGN"}
KEY_IDS = {"auth": b"\x01", "sign": b"\x02"}
DATA_LABEL = "CPS_HOLDER"
DATA_APPLICATION = "CPx holder data v1 (CMS SignedData)"
# The help-desk unblock key's public half (DER SubjectPublicKeyInfo, pki.unblock): the agent's end of the
# challenge-response that unblocks the card by phone (docs/codes.md).
UNBLOCK_LABEL = "CPX_UNBLOCK"
UNBLOCK_APPLICATION = "CPx help-desk unblock v1"

_process_lock = threading.RLock()
_init_lock = threading.Lock()
_loaded_with: dict[str, str] = {}  # module path -> SOFTHSM2_CONF it was initialized with


class TokenError(Exception):
    """A card or reader did not do what was asked (the job fails and the blank is accounted for)."""


@dataclass(frozen=True)
class Reader:
    """Where a card sits: the PKCS#11 module and, for SoftHSM2, its configuration file."""

    module: str
    softhsm_conf: str = ""
    # The reader's PKCS#11 slot id with real readers; None with SoftHSM2, whose one free slot is the blank.
    slot: int | None = None

    @property
    def lock_path(self) -> Path | None:
        return Path(self.softhsm_conf).with_suffix(".lock") if self.softhsm_conf else None


def library(reader: Reader) -> Any:
    """The loaded module, pointed at the reader's SoftHSM2 configuration.

    SoftHSM2 reads SOFTHSM2_CONF at C_Initialize, so switching configuration re-initializes the module
    (one configuration per station process in production; tests switch between their own). The
    configuration the module was initialized with is remembered here, not read back from the environment.
    """
    with _process_lock:
        lib = pkcs11.lib(reader.module)
        wanted = reader.softhsm_conf or os.environ.get("SOFTHSM2_CONF", "")
        if _loaded_with.setdefault(reader.module, os.environ.get("SOFTHSM2_CONF", "")) != wanted:
            os.environ["SOFTHSM2_CONF"] = wanted
            lib.reinitialize()
            _loaded_with[reader.module] = wanted
        return lib


def _raw(reader: Reader) -> ctypes.CDLL:
    library(reader)
    raw = ctypes.CDLL(reader.module)
    raw.C_InitToken.argtypes = [ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    raw.C_CloseAllSessions.argtypes = [ctypes.c_ulong]
    return raw


@contextlib.contextmanager
def reader_lock(reader: Reader) -> Iterator[None]:
    """Serialize token initialization on one token store: concurrent C_InitToken calls on a SoftHSM2
    directory corrupt it, and two workers must not take the same blank slot."""
    path = reader.lock_path
    if path is None:
        with _init_lock:
            yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def blank_slots(reader: Reader) -> list[int]:
    """Slots holding a blank card (a token present but not initialized)."""
    slots = library(reader).get_slots(token_present=True)
    return [s.slot_id for s in slots if not s.get_token().flags & pkcs11.TokenFlag.TOKEN_INITIALIZED]


def find_token(reader: Reader, label: str) -> pkcs11.Token | None:
    try:
        return library(reader).get_token(token_label=label)
    except (TokenNotRecognised, NoSuchToken):
        return None


def close_sessions(reader: Reader, slot_id: int) -> None:
    _raw(reader).C_CloseAllSessions(slot_id)


def initialize_token(reader: Reader, *, label: str, so_pin: str, user_pin: str) -> int:
    """Initialize the blank in the reader: label = card number, SO PIN = PUK, user PIN set as SO.

    Returns the slot id it used. Runs under the reader lock (see reader_lock).
    """
    with reader_lock(reader):
        free = blank_slots(reader)
        if reader.slot is not None:
            free = [slot for slot in free if slot == reader.slot]
        if not free:
            raise TokenError("no blank card in the reader")
        slot_id = free[0]
        padded = label.encode().ljust(32)[:32]
        rv = _raw(reader).C_InitToken(slot_id, so_pin.encode(), len(so_pin), padded)
        if rv != CKR_OK:
            raise TokenError(f"C_InitToken failed: 0x{rv:x}")
    token = find_token(reader, label)
    if token is None:
        raise TokenError(f"token {label} not found after initialization")
    with token.open(rw=True, so_pin=so_pin) as session:
        session.init_pin(user_pin)
    return token.slot.slot_id


# Every object the station writes is write-protected: neither changed nor deleted, with or without the
# holder's PIN (CKR_ACTION_PROHIBITED); only re-initializing the token as security officer clears the card.
WRITE_PROTECTED = {Attribute.MODIFIABLE: False, Attribute.DESTROYABLE: False}


def generate_keypair(session: pkcs11.Session, usage: str) -> rsa.RSAPublicKey:
    """An RSA-2048 key pair generated on the card: the private key is sensitive and never extractable,
    both halves write-protected."""
    public, _private = session.generate_keypair(
        KeyType.RSA,
        2048,
        id=KEY_IDS[usage],
        label=KEY_LABELS[usage],
        store=True,
        public_template={
            Attribute.VERIFY: True,
            Attribute.ENCRYPT: False,
            Attribute.WRAP: False,
            **WRITE_PROTECTED,
        },
        private_template={
            **WRITE_PROTECTED,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.PRIVATE: True,
            Attribute.SIGN: True,
            # The signature key asks for the PIN again before each signature (C_Login CKU_CONTEXT_SPECIFIC
            # between C_SignInit and C_Sign): one PIN entry, one signature.
            Attribute.ALWAYS_AUTHENTICATE: usage == "sign",
            Attribute.DECRYPT: usage == "auth",
            Attribute.UNWRAP: False,
        },
    )
    numbers = rsa.RSAPublicNumbers(
        int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
        int.from_bytes(public[Attribute.MODULUS], "big"),
    )
    return numbers.public_key()


def write_certificate(session: pkcs11.Session, usage: str, der: bytes, subject_der: bytes) -> None:
    session.create_object(
        {
            Attribute.CLASS: ObjectClass.CERTIFICATE,
            Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.LABEL: KEY_LABELS[usage],
            Attribute.ID: KEY_IDS[usage],
            Attribute.SUBJECT: subject_der,
            Attribute.VALUE: der,
            **WRITE_PROTECTED,
        }
    )


def write_data(session: pkcs11.Session, value: bytes) -> None:
    session.create_object(
        {
            Attribute.CLASS: ObjectClass.DATA,
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.LABEL: DATA_LABEL,
            Attribute.APPLICATION: DATA_APPLICATION,
            Attribute.VALUE: value,
            **WRITE_PROTECTED,
        }
    )


def write_unblock_key(session: pkcs11.Session, spki_der: bytes) -> None:
    """The public help-desk key the card's PUK is answered with (CPX_UNBLOCK), write-protected."""
    session.create_object(
        {
            Attribute.CLASS: ObjectClass.DATA,
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.LABEL: UNBLOCK_LABEL,
            Attribute.APPLICATION: UNBLOCK_APPLICATION,
            Attribute.VALUE: spki_der,
            **WRITE_PROTECTED,
        }
    )


def sign(session: pkcs11.Session, usage: str, challenge: bytes, *, pin: str | None = None) -> bytes:
    """Sign with one of the card's keys in a logged-in session. The signature key (CKA_ALWAYS_AUTHENTICATE)
    needs ``pin`` again for each signature: python-pkcs11 then logs in CKU_CONTEXT_SPECIFIC between
    C_SignInit and C_Sign (given to a key without the attribute, that login would fail)."""
    key = session.get_key(ObjectClass.PRIVATE_KEY, KeyType.RSA, label=KEY_LABELS[usage])
    again = {"pin": pin} if key[Attribute.ALWAYS_AUTHENTICATE] else {}
    if again and not pin:
        raise TokenError(f"the {usage} key needs the PIN for each signature")
    return bytes(key.sign(challenge, mechanism=Mechanism.SHA256_RSA_PKCS, **again))  # type: ignore[attr-defined]


def wipe_token(reader: Reader, label: str) -> None:
    """Remove an interrupted card's content so the blank is accounted for (SoftHSM2: delete the token;
    with a real reader the card is set aside as spoiled)."""
    token = find_token(reader, label)
    if token is None:
        return
    close_sessions(reader, token.slot.slot_id)
    if not reader.softhsm_conf:
        return
    with reader_lock(reader):
        env = {**os.environ, "SOFTHSM2_CONF": reader.softhsm_conf}
        subprocess.run(
            ["softhsm2-util", "--delete-token", "--token", label, "--force"],
            env=env,
            check=False,
            capture_output=True,
        )
    library(reader).reinitialize()
