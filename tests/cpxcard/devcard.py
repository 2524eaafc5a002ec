"""Build a development card in a SoftHSM2 store, as a station would, in a process of its own.

Run as ``python -m tests.cpxcard.devcard`` with a JSON spec on standard input (codes included: this is the
card factory, not the agent), it prints the card's certificates as JSON. Its own process, because a
process that loaded SoftHSM2 keeps the token list it saw at C_Initialize (a card made later is invisible
to it), and the agent under test runs in fresh processes too.

The card is made with the station's own functions (stations.tokens: RSA-2048 keys on the card, the
signature key with CKA_ALWAYS_AUTHENTICATE, every object write-protected), certified by a test CA, with a
holder data object signed by that CA (CMS SignedData, docs/card_data.md) and, if asked, the help-desk
key's public half (CPX_UNBLOCK).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import sys
from typing import Any

from asn1crypto import algos as asn1_algos
from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pkcs11 import Attribute, ObjectClass

from stations import tokens

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


def build(spec: dict) -> dict:
    reader = tokens.Reader(SOFTHSM, spec["conf"])
    ca_key: Any = serialization.load_pem_private_key(spec["ca_key"].encode(), None)
    ca_cert = x509.load_pem_x509_certificate(spec["ca_cert"].encode())
    number = spec["number"]
    tokens.initialize_token(reader, label=number, so_pin=spec["puk"], user_pin=spec["pin"])
    token = tokens.find_token(reader, number)
    assert token is not None
    certificates = {}
    with token.open(rw=True, user_pin=spec["pin"]) as session:
        for usage in ("auth", "sign"):
            public = tokens.generate_keypair(session, usage)
            certificate = _certify(ca_key, ca_cert, public, spec["holder"], usage)
            der = certificate.public_bytes(serialization.Encoding.DER)
            tokens.write_certificate(session, usage, der, certificate.subject.public_bytes())
            certificates[usage] = certificate.public_bytes(serialization.Encoding.PEM).decode()
        if spec.get("holder_data") is not None:
            content = json.dumps(spec["holder_data"], ensure_ascii=False).encode()
            signed = signed_data(ca_key, ca_cert, content)
            if spec.get("tamper"):
                signed = signed.replace(content, content.replace(b"MARTIN", b"DURAND"))
            tokens.write_data(session, signed)
        if spec.get("unblock_spki"):
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.DATA,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: False,
                    Attribute.LABEL: "CPX_UNBLOCK",
                    Attribute.APPLICATION: "CPx help-desk unblock v1",
                    Attribute.VALUE: base64.b64decode(spec["unblock_spki"]),
                    **tokens.WRITE_PROTECTED,
                }
            )
    return certificates


def _certify(ca_key, ca_cert, public, holder: str, usage: str) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{holder} ({usage})")]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3 * 365))
        .sign(ca_key, hashes.SHA256())
    )


def signed_data(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, content: bytes) -> bytes:
    """What the signing service makes (pki.signing.sign_data), with a test CA's key in memory."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(content)
    certificate = asn1_x509.Certificate.load(ca_cert.public_bytes(serialization.Encoding.DER))
    attributes = asn1_cms.CMSAttributes(
        [
            asn1_cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            asn1_cms.CMSAttribute({"type": "message_digest", "values": [digest.finalize()]}),
            asn1_cms.CMSAttribute(
                {"type": "signing_time", "values": [asn1_cms.Time({"utc_time": dt.datetime.now(dt.UTC)})]}
            ),
        ]
    )
    signer_info = asn1_cms.SignerInfo(
        {
            "version": "v1",
            "sid": asn1_cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value=asn1_cms.IssuerAndSerialNumber(
                    {"issuer": certificate.issuer, "serial_number": certificate.serial_number}
                ),
            ),
            "digest_algorithm": asn1_algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": attributes,
            "signature_algorithm": asn1_algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            "signature": ca_key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256())),
        }
    )
    signed = asn1_cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [asn1_algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "data", "content": content},
            "certificates": [certificate],
            "signer_infos": [signer_info],
        }
    )
    return asn1_cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


if __name__ == "__main__":
    print(json.dumps(build(json.load(sys.stdin))))
