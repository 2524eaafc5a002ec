"""The CA's PKCS#11 tokens: where every CA and OCSP-responder private key is generated, kept and used.

Four tokens, each with its own PIN, so that each process can be given only the one it needs:

    role     token (label)         opened by                                       holds
    root     CPX_ROOT_TOKEN_*      the operator's root ceremonies (`pki_root ...`) the root CA key
    ca       CPX_CA_TOKEN_*        the signing service (its own queue and worker)  the issuing CAs' keys
    ocsp     CPX_OCSP_TOKEN_*      the web processes (the OCSP responder)          the OCSP responder key
    unblock  CPX_UNBLOCK_TOKEN_*   the reader stations and the signing service     the PUK master keys and
                                                                                   the help-desk keys

A key is generated on its token (sensitive, never extractable) and only ever *used* there: no private key
exists in a file or in the database. cryptography builds certificates and CRLs only by signing them, so the
builders sign with a throw-away software key of the same algorithm (``pki.keys.placeholder_key``) and the
signature is then replaced with the token's, over the very same to-be-signed bytes.

In development and tests each token lives in its own SoftHSM2 store (``CPX_HSM_SOFTHSM_DIR/<role>/``),
created on first need. SoftHSM2 reads SOFTHSM2_CONF once, at C_Initialize, and a process may also drive
card stores (stations) with another configuration: each store is therefore opened through its own copy of
the module (a distinct file is a distinct library for the dynamic loader, with its own state).
In production CPX_HSM_MODULE is the HSM vendor's module and CPX_HSM_SOFTHSM_DIR is empty.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pkcs11
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import NoSuchKey, NoSuchToken, PinIncorrect, PKCS11Error, TokenNotRecognised
from pkcs11.util.ec import encode_ec_public_key, encode_ecdsa_signature, encode_named_curve_parameters

from . import keys
from .keys import Algorithm, PublicKey, placeholder_key

ROLES = ("root", "ca", "ocsp", "unblock")
_SETTINGS = {
    "root": ("CPX_ROOT_TOKEN_LABEL", "CPX_ROOT_TOKEN_PIN"),
    "ca": ("CPX_CA_TOKEN_LABEL", "CPX_CA_TOKEN_PIN"),
    "ocsp": ("CPX_OCSP_TOKEN_LABEL", "CPX_OCSP_TOKEN_PIN"),
    "unblock": ("CPX_UNBLOCK_TOKEN_LABEL", "CPX_UNBLOCK_TOKEN_PIN"),
}


class TokenUnavailable(Exception):
    """The token cannot be used by this process: no PIN configured, wrong PIN, token or key missing."""


@dataclass(frozen=True)
class Token:
    """How to reach one of the CA's tokens. The PIN never appears in a repr or a log."""

    role: str
    module: str
    label: str
    pin: str = field(repr=False)
    softhsm_dir: str = ""  # the development SoftHSM2 store of this token; empty with a real HSM

    @property
    def softhsm_conf(self) -> str:
        return str(Path(self.softhsm_dir) / "softhsm2.conf") if self.softhsm_dir else ""

    @property
    def pin_setting(self) -> str:
        return _SETTINGS[self.role][1]


def token(role: str) -> Token:
    """The configured token of a role ("root", "ca", "ocsp", "unblock")."""
    label_setting, pin_setting = _SETTINGS[role]
    base = settings.CPX_HSM_SOFTHSM_DIR
    return Token(
        role=role,
        module=settings.CPX_HSM_MODULE,
        label=getattr(settings, label_setting),
        pin=getattr(settings, pin_setting),
        softhsm_dir=str(Path(base) / role) if base else "",
    )


# --- loading the module --------------------------------------------------------------------------------

_lock = threading.RLock()
_libraries: dict[tuple[str, str], tuple[int, Any]] = {}  # (module, conf) -> (pid, pkcs11.lib)
_sessions: dict[Token, tuple[int, Any]] = {}  # token -> (pid, logged-in session)


def _module_path(tok: Token) -> str:
    """The module file to load: SoftHSM2 stores get a private copy each (see the module docstring)."""
    if not tok.softhsm_dir:
        return tok.module
    lib_dir = Path(tok.softhsm_dir) / "lib"
    copy = lib_dir / Path(tok.module).name
    source = Path(tok.module)
    if not copy.exists() or copy.stat().st_size != source.stat().st_size:
        lib_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = copy.with_suffix(f".{os.getpid()}.part")
        shutil.copyfile(source, partial)
        partial.replace(copy)
    return str(copy)


@contextlib.contextmanager
def _conf_env(tok: Token) -> Iterator[None]:
    """SOFTHSM2_CONF pointing at the token's store while the module (re)initializes."""
    if not tok.softhsm_conf:
        yield
        return
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = tok.softhsm_conf
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = before


def _library(tok: Token, *, refresh: bool = False) -> Any:
    """The initialized module for the token's store; re-initialized after a fork (PKCS#11 state does not
    survive one) or on request (SoftHSM2 sees tokens created after C_Initialize only after a new one)."""
    key = (tok.module, tok.softhsm_conf)
    with _lock:
        pid, lib = _libraries.get(key, (0, None))
        if lib is None:
            if tok.softhsm_dir:
                _write_store_conf(tok)
            with _conf_env(tok):
                lib = pkcs11.lib(_module_path(tok))
            _libraries[key] = (os.getpid(), lib)
        elif refresh or pid != os.getpid():
            for cached in [t for t in _sessions if (t.module, t.softhsm_conf) == key]:
                _sessions.pop(cached, None)
            with _conf_env(tok):
                lib.reinitialize()
            _libraries[key] = (os.getpid(), lib)
        return lib


def _write_store_conf(tok: Token) -> None:
    store = Path(tok.softhsm_dir)
    (store / "tokens").mkdir(parents=True, exist_ok=True, mode=0o700)
    conf = store / "softhsm2.conf"
    text = f"directories.tokendir = {store / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    if not conf.exists() or conf.read_text() != text:
        conf.write_text(text)


def _find(tok: Token) -> Any | None:
    try:
        return _library(tok).get_token(token_label=tok.label)
    except (TokenNotRecognised, NoSuchToken):
        return None


def ensure_token(tok: Token) -> None:
    """Make sure the token exists. A SoftHSM2 store gets it created (``softhsm2-util``, serialized by a
    lock file: concurrent writers corrupt a store); a real HSM's token is prepared by its administrators."""
    if _find(tok) is not None:
        return
    if not tok.softhsm_dir:
        raise TokenUnavailable(f"no token labelled {tok.label!r} in {tok.module}")
    if not tok.pin:
        raise TokenUnavailable(f"{tok.pin_setting} is not configured: cannot create the {tok.role} token")
    _write_store_conf(tok)
    with open(Path(tok.softhsm_dir) / "store.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if _find(tok) is None:
            env = {**os.environ, "SOFTHSM2_CONF": tok.softhsm_conf}
            # The security officer PIN of a development store is thrown away: nobody re-initializes it.
            so_pin = secrets.token_hex(8)
            command = ["softhsm2-util", "--init-token", "--free", "--label", tok.label]
            result = subprocess.run(
                [*command, "--so-pin", so_pin, "--pin", tok.pin], env=env, capture_output=True, text=True
            )
            if result.returncode != 0:
                raise TokenUnavailable(f"softhsm2-util could not create {tok.label}: {result.stderr.strip()}")
        _library(tok, refresh=True)
    if _find(tok) is None:
        raise TokenUnavailable(f"token {tok.label} not found after its creation")


@contextlib.contextmanager
def session(tok: Token) -> Iterator[Any]:
    """A logged-in read-write session on the token, kept open for the process (one per token), under the
    module lock. A session the module lost (a fork, a re-initialization) is reopened once."""
    if not tok.pin:
        raise TokenUnavailable(
            f"{tok.pin_setting} is not configured in this process: no access to {tok.label}"
        )
    with _lock:
        pid, cached = _sessions.get(tok, (0, None))
        if cached is None or pid != os.getpid():
            _library(tok)  # re-initializes after a fork
            found = _find(tok)
            if found is None:
                raise TokenUnavailable(f"no token labelled {tok.label!r} (run `manage.py pki_init`)")
            # Another configuration of the same token (a changed PIN) logs in afresh: the login state is
            # the module's, so the old sessions are closed first and the new PIN is really checked.
            for other in [
                t
                for t in _sessions
                if t != tok
                and (t.module, t.softhsm_conf, t.label) == (tok.module, tok.softhsm_conf, tok.label)
            ]:
                _close(_sessions.pop(other)[1])
            try:
                cached = found.open(rw=True, user_pin=tok.pin)
            except PinIncorrect:
                raise TokenUnavailable(f"{tok.pin_setting} is not the PIN of {tok.label}") from None
            _sessions[tok] = (os.getpid(), cached)
        yield cached


def _close(cached: Any) -> None:
    with contextlib.suppress(PKCS11Error):
        cached.close()


def _drop_session(tok: Token) -> None:
    with _lock:
        _sessions.pop(tok, None)


def key_id(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()[:8]


def generate(tok: Token, label: str, algorithm: Algorithm) -> PublicKey:
    """Generate a key pair on the token: the private half is sensitive, never extractable, sign-only."""
    private_template = {
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.PRIVATE: True,
        Attribute.SIGN: True,
        Attribute.DECRYPT: False,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
    }
    public_template = {Attribute.VERIFY: True, Attribute.ENCRYPT: False, Attribute.WRAP: False}
    options: dict[str, Any] = {
        "id": key_id(label),
        "label": label,
        "store": True,
        "public_template": public_template,
        "private_template": private_template,
    }
    with session(tok) as s:
        if _find_key(s, ObjectClass.PUBLIC_KEY, label) is not None:
            raise TokenUnavailable(
                f"a key labelled {label!r} already exists on {tok.label}: never overwritten"
            )
        if algorithm.kind == "rsa":
            s.generate_keypair(KeyType.RSA, algorithm.bits, **options)
        else:
            params = s.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(algorithm.curve)}, local=True
            )
            params.generate_keypair(**options)
    found = public_key(tok, label)
    assert found is not None
    return found


def _find_key(s: Any, object_class: ObjectClass, label: str) -> Any | None:
    try:
        return s.get_key(object_class=object_class, label=label)
    except NoSuchKey:
        return None


def public_key(tok: Token, label: str) -> PublicKey | None:
    """The public half of a key on the token, or None when the token has no such key."""
    with session(tok) as s:
        key = _find_key(s, ObjectClass.PUBLIC_KEY, label)
        if key is None:
            return None
        if key.key_type == KeyType.RSA:
            numbers = rsa.RSAPublicNumbers(
                int.from_bytes(key[Attribute.PUBLIC_EXPONENT], "big"),
                int.from_bytes(key[Attribute.MODULUS], "big"),
            )
            return numbers.public_key()
        loaded = serialization.load_der_public_key(encode_ec_public_key(key))
        assert isinstance(loaded, ec.EllipticCurvePublicKey)
        return loaded


def has_private_key(tok: Token, label: str) -> bool:
    with session(tok) as s:
        return _find_key(s, ObjectClass.PRIVATE_KEY, label) is not None


def sign(tok: Token, label: str, algorithm: Algorithm, data: bytes) -> bytes:
    """Sign ``data`` with the token's key: PKCS#1 v1.5 for RSA, a DER ECDSA-Sig-Value for EC (the
    encodings X.509, CRLs and OCSP carry)."""
    for attempt in (1, 2):
        try:
            with session(tok) as s:
                key = _find_key(s, ObjectClass.PRIVATE_KEY, label)
                if key is None:
                    raise TokenUnavailable(f"no private key {label!r} on {tok.label}")
                if algorithm.kind == "rsa":
                    mechanism = (
                        Mechanism.SHA384_RSA_PKCS if algorithm.bits >= 384 else Mechanism.SHA256_RSA_PKCS
                    )
                    return bytes(key.sign(data, mechanism=mechanism))
                digest = hashes.Hash(algorithm.hash())
                digest.update(data)
                raw = bytes(key.sign(digest.finalize(), mechanism=Mechanism.ECDSA))
                return bytes(encode_ecdsa_signature(raw))
        except TokenUnavailable:
            raise
        except PKCS11Error:
            _drop_session(tok)  # a lost session (the module was re-initialized): reopen once
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Signer:
    """A key on a token, able to sign: what CA and responder operations are given."""

    tok: Token
    label: str
    algorithm: Algorithm

    def sign(self, data: bytes) -> bytes:
        return sign(self.tok, self.label, self.algorithm, data)

    def public_key(self) -> PublicKey:
        found = public_key(self.tok, self.label)
        if found is None:
            raise TokenUnavailable(f"no key {self.label!r} on {self.tok.label}")
        return found


def ca_signer(ca: Any) -> Signer:
    """A CA's key on its token (a pki.models.CertificateAuthority: its token role, key label, algorithm)."""
    return Signer(token(ca.token_role), ca.key_label, keys.ALGORITHMS[ca.algorithm])


# --- signing cryptography's builders through the token ------------------------------------------------


def sign_certificate(builder: x509.CertificateBuilder, signer: Signer) -> x509.Certificate:
    draft = builder.sign(placeholder_key(signer.algorithm.name), signer.algorithm.hash())  # type: ignore[arg-type]
    parsed = asn1_x509.Certificate.load(draft.public_bytes(serialization.Encoding.DER))
    signature = signer.sign(draft.tbs_certificate_bytes)
    final = asn1_x509.Certificate(
        {
            "tbs_certificate": parsed["tbs_certificate"],
            "signature_algorithm": parsed["signature_algorithm"],
            "signature_value": signature,
        }
    )
    return x509.load_der_x509_certificate(final.dump())


def sign_crl(
    builder: x509.CertificateRevocationListBuilder, signer: Signer
) -> x509.CertificateRevocationList:
    draft = builder.sign(placeholder_key(signer.algorithm.name), signer.algorithm.hash())  # type: ignore[arg-type]
    parsed = asn1_crl.CertificateList.load(draft.public_bytes(serialization.Encoding.DER))
    signature = signer.sign(draft.tbs_certlist_bytes)
    final = asn1_crl.CertificateList(
        {
            "tbs_cert_list": parsed["tbs_cert_list"],
            "signature_algorithm": parsed["signature_algorithm"],
            "signature": signature,
        }
    )
    return x509.load_der_x509_crl(final.dump())
