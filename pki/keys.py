"""The key policy table: which algorithms each kind of key may use, and until when.

Sources: ANSSI RGS B1 (référentiel général de sécurité, annexe B1, mécanismes cryptographiques): RSA
moduli of 2048 bits are acceptable until the end of 2030, 3072 bits and more beyond; elliptic curves of 256
bits and more (P-256, P-384) with no end date set. IGC-Santé's current cards carry RSA-2048 keys (DOMAIN §5).

    key                 allowed                                  default      validity
    root CA             ec-p384, rsa-4096                        ec-p384      20 years
    issuing CA          ec-p256, ec-p384, rsa-3072, rsa-4096     ec-p256      10 years (within the root's)
    OCSP responder      ec-p256, ec-p384, rsa-3072, rsa-4096     ec-p256      180 days (root's: 1 year)
    card key            rsa-2048 for a certificate ending by 2030-12-31, else rsa-3072+ or ec-p256+

The defaults are settings (CPX_PKI_ROOT_ALGORITHM, CPX_PKI_CA_ALGORITHM, CPX_PKI_OCSP_ALGORITHM); a value
outside its row is refused when the key is made.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings

RSA_2048_UNTIL = dt.datetime(2030, 12, 31, 23, 59, 59, tzinfo=dt.UTC)

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class Algorithm:
    """A key algorithm: its PKCS#11 generation parameters and the hash its signatures use."""

    name: str
    kind: str  # "rsa" or "ec"
    bits: int  # RSA modulus or curve size
    curve: str = ""  # the named curve (PKCS#11 EC_PARAMS), for EC

    def hash(self) -> hashes.HashAlgorithm:
        return hashes.SHA384() if self.bits >= 384 else hashes.SHA256()

    @property
    def signature_name(self) -> str:
        """asn1crypto's name of the signature algorithm (as written in certificates, CRLs, OCSP)."""
        digest = "sha384" if self.bits >= 384 else "sha256"
        return f"{digest}_ecdsa" if self.kind == "ec" else f"{digest}_rsa"

    def matches(self, public_key: object) -> bool:
        if self.kind == "rsa":
            return isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == self.bits
        return isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == self.curve


ALGORITHMS = {
    a.name: a
    for a in (
        Algorithm("ec-p256", "ec", 256, "secp256r1"),
        Algorithm("ec-p384", "ec", 384, "secp384r1"),
        Algorithm("rsa-2048", "rsa", 2048),
        Algorithm("rsa-3072", "rsa", 3072),
        Algorithm("rsa-4096", "rsa", 4096),
    )
}

ALLOWED = {
    "root": ("ec-p384", "rsa-4096"),
    "ca": ("ec-p256", "ec-p384", "rsa-3072", "rsa-4096"),
    "ocsp": ("ec-p256", "ec-p384", "rsa-3072", "rsa-4096"),
}
VALIDITY = {
    "root": dt.timedelta(days=20 * 365),
    "ca": dt.timedelta(days=10 * 365),
    "ocsp": dt.timedelta(days=180),
    "ocsp-root": dt.timedelta(days=365),
}


class KeyPolicyError(ValueError):
    """A key outside the policy table."""


def algorithm_for(role: str) -> Algorithm:
    """The configured algorithm of a CA role ("root", "ca", "ocsp"), checked against the table."""
    name = {
        "root": settings.CPX_PKI_ROOT_ALGORITHM,
        "ca": settings.CPX_PKI_CA_ALGORITHM,
        "ocsp": settings.CPX_PKI_OCSP_ALGORITHM,
    }[role]
    if name not in ALLOWED[role]:
        raise KeyPolicyError(f"{role} keys may be {', '.join(ALLOWED[role])}, not {name!r}")
    return ALGORITHMS[name]


def algorithm_of(public_key: object) -> Algorithm:
    for algorithm in ALGORITHMS.values():
        if algorithm.matches(public_key):
            return algorithm
    raise KeyPolicyError(f"unsupported key {type(public_key).__name__}")


def check_card_key(public_key: object, not_after: dt.datetime) -> None:
    """A card key may be certified until ``not_after``: RSA-2048 only up to the end of 2030 (RGS B1)."""
    algorithm = algorithm_of(public_key)
    if algorithm.kind == "rsa" and algorithm.bits < 2048:
        raise KeyPolicyError("card RSA keys have at least 2048 bits")
    if algorithm.name == "rsa-2048" and not_after > RSA_2048_UNTIL:
        raise KeyPolicyError("an RSA-2048 card key may not be certified beyond 2030-12-31 (RGS B1)")


def card_key_bits(not_after: dt.date) -> int:
    """The RSA size a station generates on a card whose certificates end on ``not_after``."""
    ends = dt.datetime.combine(not_after, dt.time(23, 59, 59), tzinfo=dt.UTC)
    return 2048 if ends <= RSA_2048_UNTIL else 3072


@functools.cache
def placeholder_key(name: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """A throw-away software key of the algorithm, made once per process. cryptography builds a certificate
    or CRL only by signing it: the builders sign with this key, and ``pki.hsm`` replaces the signature with
    the token's over the same to-be-signed bytes (the AlgorithmIdentifier inside them is the same)."""
    algorithm = ALGORITHMS[name]
    if algorithm.kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=algorithm.bits)
    curve = ec.SECP384R1() if algorithm.bits == 384 else ec.SECP256R1()
    return ec.generate_private_key(curve)
