"""The unblock token's keys: every card's PUK derived (never stored), and the help-desk challenge-response.

The token of role ``unblock`` (``pki.hsm``: CPX_UNBLOCK_TOKEN_LABEL / CPX_UNBLOCK_TOKEN_PIN) holds, per key
version N (a card records the version its PUK came from, ``Card.puk_key_version``; new cards take
CPX_UNBLOCK_KEY_VERSION):

    cpx-puk-master-vN   a 256-bit generic secret: sensitive, never extractable, usable only to sign with
                        CKM_SHA256_HMAC. PUK = HMAC(master, "cpx-puk|<number>|v<N>"), its first 8 bytes as a
                        big-endian integer mod 10^8, 8 digits.
    cpx-helpdesk-vN     an EC P-256 key pair whose private half only derives (CKM_ECDH1_DERIVE). The card
                        carries the public half (DATA object CPX_UNBLOCK, DER SubjectPublicKeyInfo).

Help-desk unblock (docs/codes.md), the PUK never shown to anyone: the holder's agent makes an ephemeral
P-256 key e and reads out its public point E (the challenge: base32 of the 33-byte compressed point, in
groups of 4). The signing service computes S = ECDH(helpdesk_vN, E) on the token (the x coordinate: a derived
session secret, extractable so that it can be read, then destroyed), K = HKDF-SHA256(S, info
"cpx-helpdesk-unblock|<number>", 8 bytes) and answers (PUK + K) mod 10^8. The agent finds S with e and the
card's public key, and PUK = (response - K) mod 10^8: the response is good for that card and that challenge
only, and the agent consumes the challenge at its first attempt.

Opened by the reader stations (a new card's PUK and its CPX_UNBLOCK object) and the signing service (codes
letters re-issued, help-desk responses), never by the web processes. The keys are made by ``pki_init``
(``ensure_keys``); a development SoftHSM2 store also gets the current version's made on first use.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from pkcs11 import KDF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import NoSuchKey, PKCS11Error
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from core.errors import InvalidInput

from . import hsm

ROLE = "unblock"
PUK_DIGITS = 8
PUK_MODULUS = 10**PUK_DIGITS
CHALLENGE_POINT_BYTES = 33  # a compressed P-256 point
HKDF_INFO = b"cpx-helpdesk-unblock|"
_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

T = TypeVar("T")


class BadChallenge(InvalidInput):
    code = "bad_challenge"
    default_message = _("This challenge is not one the card agent shows (cpx-card helpdesk): check it.")


def master_label(version: int) -> str:
    return f"cpx-puk-master-v{version}"


def helpdesk_label(version: int) -> str:
    return f"cpx-helpdesk-v{version}"


def current_version() -> int:
    """The key version new cards' PUKs are derived from (CPX_UNBLOCK_KEY_VERSION)."""
    return int(settings.CPX_UNBLOCK_KEY_VERSION)


def _token() -> hsm.Token:
    return hsm.token(ROLE)


# --- the PUK ---------------------------------------------------------------------------------------


def puk_message(card_number: str, version: int) -> bytes:
    return f"cpx-puk|{card_number}|v{version}".encode()


def puk_from_mac(mac: bytes) -> str:
    """The 8 digits of a PUK from its HMAC: the first 8 bytes, big-endian, mod 10^8."""
    return f"{int.from_bytes(mac[:8], 'big') % PUK_MODULUS:0{PUK_DIGITS}d}"


def puk_for(card_number: str, version: int) -> str:
    """The card's PUK (its security officer PIN): HMAC-SHA256 on the token by master key ``version``."""
    message = puk_message(card_number, version)

    def mac(s: Any) -> bytes:
        key = _key(s, ObjectClass.SECRET_KEY, master_label(version))
        return bytes(key.sign(message, mechanism=Mechanism.SHA256_HMAC))

    return puk_from_mac(_on_token(mac, version))


# --- the help-desk key -----------------------------------------------------------------------------


def helpdesk_public_key(version: int) -> bytes:
    """DER SubjectPublicKeyInfo of the help-desk key ``version``: what the card's CPX_UNBLOCK holds."""

    def public(s: Any) -> bytes:
        key = _key(s, ObjectClass.PUBLIC_KEY, helpdesk_label(version))
        loaded = serialization.load_der_public_key(encode_ec_public_key(key))
        return loaded.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    return _on_token(public, version)


def challenge_point(challenge: str) -> bytes:
    """The agent's ephemeral public point (33 bytes, compressed) from the challenge the holder reads out:
    base32 (RFC 4648, no padding), any case, with or without dashes and spaces. Anything that is not a
    point of P-256 is refused (``bad_challenge``)."""
    text = "".join(str(challenge).split()).replace("-", "").upper()
    if not text or len(text) > 64 or not set(text) <= _BASE32:
        raise BadChallenge(field="challenge")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise BadChallenge(field="challenge") from None
    if len(raw) != CHALLENGE_POINT_BYTES or raw[0] not in (2, 3):
        raise BadChallenge(field="challenge")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise BadChallenge(field="challenge") from None
    return raw


def normalize_challenge(challenge: str) -> str:
    """The challenge's one spelling (upper-case base32 of its point, no padding): two spellings of the same
    point are the same challenge."""
    return base64.b32encode(challenge_point(challenge)).decode().rstrip("=")


def display_challenge(challenge: str) -> str:
    text = normalize_challenge(challenge)
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def response_offset(shared_secret: bytes, card_number: str) -> int:
    """K: HKDF-SHA256 of the ECDH secret, bound to the card, as an integer (both sides compute it)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=8, salt=b"", info=HKDF_INFO + card_number.encode())
    return int.from_bytes(hkdf.derive(shared_secret), "big")


def helpdesk_response(card_number: str, version: int, challenge: str) -> str:
    """The 8 digits the operator reads to the holder: (PUK + K) mod 10^8 (module docstring). Shown as
    ``1234 5678`` (``display_response``)."""
    point = challenge_point(challenge)
    uncompressed = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point).public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    shared = _on_token(lambda s: _ecdh(s, version, uncompressed), version)
    puk = int(puk_for(card_number, version))
    return f"{(puk + response_offset(shared, card_number)) % PUK_MODULUS:0{PUK_DIGITS}d}"


def display_response(response: str) -> str:
    return f"{response[:4]} {response[4:]}"


def _ecdh(s: Any, version: int, point: bytes) -> bytes:
    """ECDH on the token: the shared x coordinate comes out as a session-only generic secret that may be
    read (a derived value, not the key), which is destroyed at once."""
    private = _key(s, ObjectClass.PRIVATE_KEY, helpdesk_label(version))
    derived = private.derive_key(
        KeyType.GENERIC_SECRET,
        256,
        mechanism=Mechanism.ECDH1_DERIVE,
        mechanism_param=(KDF.NULL, None, point),
        template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True, Attribute.TOKEN: False},
    )
    try:
        return bytes(derived[Attribute.VALUE])
    finally:
        derived.destroy()


# --- making the keys -------------------------------------------------------------------------------

_MASTER_TEMPLATE = {
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.PRIVATE: True,
    Attribute.SIGN: True,
    Attribute.VERIFY: False,
    Attribute.ENCRYPT: False,
    Attribute.DECRYPT: False,
    Attribute.WRAP: False,
    Attribute.UNWRAP: False,
    Attribute.DERIVE: False,
    Attribute.MODIFIABLE: False,
}
_HELPDESK_PRIVATE = {
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.PRIVATE: True,
    Attribute.DERIVE: True,
    Attribute.SIGN: False,
    Attribute.DECRYPT: False,
    Attribute.UNWRAP: False,
    Attribute.MODIFIABLE: False,
}
_HELPDESK_PUBLIC = {
    Attribute.VERIFY: False,
    Attribute.ENCRYPT: False,
    Attribute.WRAP: False,
    Attribute.DERIVE: False,
    Attribute.MODIFIABLE: False,
}


def ensure_keys(version: int | None = None) -> bool:
    """Make the master key and the help-desk key pair of ``version`` (default: the current one) on the
    unblock token if they are missing (a SoftHSM2 store gets its token created). Never replaces a key: the
    PUKs of every card of that version come from it. Returns whether anything was made."""
    version = current_version() if version is None else version
    tok = _token()
    hsm.ensure_token(tok)
    with _store_lock(tok), hsm.session(tok) as s:
        made = False
        if _find(s, ObjectClass.SECRET_KEY, master_label(version)) is None:
            _make_master(s, version)
            made = True
        if _find(s, ObjectClass.PRIVATE_KEY, helpdesk_label(version)) is None:
            _make_helpdesk(s, version)
            made = True
        return made


def _make_master(s: Any, version: int) -> None:
    label = master_label(version)
    s.generate_key(
        KeyType.GENERIC_SECRET, 256, id=hsm.key_id(label), label=label, store=True, template=_MASTER_TEMPLATE
    )


def _make_helpdesk(s: Any, version: int) -> None:
    label = helpdesk_label(version)
    params = s.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True
    )
    params.generate_keypair(
        id=hsm.key_id(label),
        label=label,
        store=True,
        public_template=_HELPDESK_PUBLIC,
        private_template=_HELPDESK_PRIVATE,
    )


@contextlib.contextmanager
def _store_lock(tok: hsm.Token) -> Iterator[None]:
    """Key creation in a SoftHSM2 store, one process at a time (two would make two keys of one label); a
    real HSM's keys are made by one ceremony."""
    if not tok.softhsm_dir:
        yield
        return
    with open(Path(tok.softhsm_dir) / "keys.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --- finding the keys ------------------------------------------------------------------------------

_checked: set[tuple[str, str, int]] = set()  # development stores whose current keys this process has seen


def _find(s: Any, object_class: ObjectClass, label: str) -> Any | None:
    try:
        return s.get_key(object_class=object_class, label=label)
    except NoSuchKey:
        return None


def _key(s: Any, object_class: ObjectClass, label: str) -> Any:
    key = _find(s, object_class, label)
    if key is None:
        raise hsm.TokenUnavailable(
            f"no key {label!r} on the unblock token {_token().label} (run `manage.py pki_init`)"
        )
    return key


def _on_token(work: Callable[[Any], T], version: int) -> T:
    """Run ``work`` in the unblock token's session; a session the module lost is reopened once (like
    ``hsm.sign``). A development store gets the current version's keys made on first need; with a real
    HSM a missing key is an error (made only by ``pki_init``: a new master key would change every PUK)."""
    tok = _token()
    if tok.softhsm_dir and version == current_version():
        checked = (tok.softhsm_dir, tok.label, version)
        if checked not in _checked:
            ensure_keys(version)
            _checked.add(checked)
    for attempt in (1, 2):
        try:
            with hsm.session(tok) as s:
                return work(s)
        except hsm.TokenUnavailable:
            raise
        except PKCS11Error:
            hsm._drop_session(tok)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
