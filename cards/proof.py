"""Proof that a card is in its holder's hands: a challenge signed with the card's authentication key.

The holder's card agent does the signing (``cpx-card sign --card <number> '<challenge>'``): it asks for the
PIN, signs the challenge's UTF-8 bytes with the key labelled CPS_AUTH (RSA PKCS#1 v1.5, SHA-256) and prints
the signature as one line of standard base64. The platform checks it with the card's authentication
certificate: issued by the platform's CA, current and not revoked. The PIN never reaches the platform.

Card activation (``lifecycle.activation``) and e-CPS activation with the card (``ecps.activation``) share
this format.
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.utils import timezone

from pki import signing
from pki.models import Certificate

from .models import Card

AGENT = "cpx-card"
# An RSA-2048 signature is 344 base64 characters; a paste with line breaks and spaces stays well under this.
MAX_SIGNATURE_TEXT = 4096


def sign_command(card_number: str, challenge: str) -> str:
    """The exact command the holder runs on their computer, as shown on the pages and in the API."""
    if "'" in challenge or "'" in card_number:
        raise ValueError("a challenge is quoted for the shell: it cannot hold a quote")
    return f"{AGENT} sign --card {card_number} '{challenge}'"


def signature_from_text(text: object) -> bytes | None:
    """The agent's output as bytes: standard base64, any whitespace or line breaks ignored (a copy from a
    terminal). None when it is not base64 at all."""
    if not isinstance(text, str) or len(text) > MAX_SIGNATURE_TEXT:
        return None
    compact = "".join(text.split())
    if not compact:
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def auth_certificate(card: Card) -> Certificate | None:
    """The card's authentication certificate that may prove possession now: current and not revoked."""
    now = timezone.now()
    return (
        Certificate.objects.select_related("authority")
        .filter(
            card=card,
            usage=Certificate.Usage.AUTH,
            revoked_at__isnull=True,
            not_before__lte=now,
            not_after__gt=now,
        )
        .order_by("-not_after")
        .first()
    )


def signed_by_card(certificate: Certificate, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the certificate's key's signature of ``message`` (RSA PKCS#1 v1.5,
    SHA-256), the certificate itself being signed by its CA (a row altered in the database proves nothing)."""
    cert = x509.load_der_x509_certificate(bytes(certificate.der))
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    try:
        cert.verify_directly_issued_by(signing.ca_certificate(certificate.authority))
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
