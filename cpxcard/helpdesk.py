"""The help-desk unblock, the card's side: a challenge read out on the phone, a response typed back.

The PUK is never shown to anyone. The agent makes an ephemeral P-256 key e; the challenge is its public
point, compressed (33 bytes), in RFC 4648 base32 without padding, in groups of 4 joined by dashes. The
help desk (pki.unblock, after a second operator's approval) computes S = ECDH(help-desk key, E) and answers
``(PUK + K) mod 10**8`` where K is HKDF-SHA256(S, salt empty, info "cpx-helpdesk-unblock|<card number>",
8 bytes) read as a big-endian integer. The agent computes the same S from e and the help-desk's public key
that the station wrote on the card (CPX_UNBLOCK), recovers ``PUK = (response - K) mod 10**8`` and unblocks
the card with it: a wrong response is a wrong PUK try. A response is good for its challenge only, and a
challenge for one attempt (e is forgotten, or destroyed on the card, by the first).
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .codes import PUK_PATTERN, SEPARATORS, CardError

INFO = b"cpx-helpdesk-unblock|"
MODULUS = 10**8


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def challenge(public: ec.EllipticCurvePublicKey) -> str:
    """``ABCD-EFGH-…``: the compressed point in base32, as the holder reads it out."""
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    text = base64.b32encode(point).decode().rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def shared_secret(key: ec.EllipticCurvePrivateKey, server: ec.EllipticCurvePublicKey) -> bytes:
    """S: the raw x coordinate of e × the help-desk's point."""
    return key.exchange(ec.ECDH(), server)


def mask(secret: bytes, card_number: str) -> int:
    """K, bound to the card: the same challenge answered for another card gives another K."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=8, salt=b"", info=INFO + card_number.encode())
    return int.from_bytes(hkdf.derive(secret), "big")


def response_format(text: str) -> int:
    """The help desk's 8 digits (``1234 5678``), spaces or dashes allowed."""
    digits = SEPARATORS.sub("", text)
    if not PUK_PATTERN.fullmatch(digits):
        raise CardError("La réponse du service d'assistance a 8 chiffres (aucun essai n'a été compté).")
    return int(digits)


def puk(response: int, secret: bytes, card_number: str) -> str:
    return f"{(response - mask(secret, card_number)) % MODULUS:08d}"
