"""The card's holder data (docs/card_data.md): a CMS SignedData by the issuing CA, checked here.

What ``openssl cms -verify -binary -inform DER -CAfile <chain> -purpose any`` checks, with cryptography and
asn1crypto (python-pkcs11's own dependency): the one SignerInfo's certificate is in the SignedData, the
signed attributes carry the content type and the digest of the content, their DER (as a SET OF) is signed
by that certificate's key, and, with ``--ca-file``, that certificate is one of the published CA
certificates or is issued by one, and valid today.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .codes import CardError

DIGESTS: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


class Unverified(Exception):
    """Why the holder data is not what the authority signed (French)."""


@dataclass(frozen=True)
class HolderData:
    content: dict[str, Any]
    signer: x509.Certificate
    signed_at: dt.datetime | None


def ca_file(path: str) -> list[x509.Certificate]:
    """The published CA certificates: PEM (one or several) or one DER."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CardError(f"Fichier de certificats illisible ({path}) : {exc.strerror}.") from None
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_certificates(raw)
        return [x509.load_der_x509_certificate(raw)]
    except ValueError:
        raise CardError(f"{path} ne contient pas de certificat X.509.") from None


def verify(value: bytes, authorities: list[x509.Certificate] | None = None) -> HolderData:
    """The holder data if its signature is good (and, given ``authorities``, made by one of them);
    raises Unverified otherwise."""
    try:
        info = cms.ContentInfo.load(value)
        if info["content_type"].native != "signed_data":
            raise Unverified("ce n'est pas une structure CMS SignedData")
        signed = info["content"]
        content = signed["encap_content_info"]["content"].native
        signer_infos = list(signed["signer_infos"])
    except (ValueError, TypeError, KeyError) as exc:
        raise Unverified(f"structure CMS illisible ({exc})") from None
    if not isinstance(content, bytes) or len(signer_infos) != 1:
        raise Unverified("la structure CMS n'a pas un contenu et un seul signataire")
    signer_info = signer_infos[0]
    signer = _signer(signed, signer_info)
    signed_at = _check_signature(signer_info, signer, content)
    if authorities is not None:
        _check_trusted(signer, authorities)
    try:
        data = json.loads(content)
    except ValueError:
        raise Unverified("le contenu signé n'est pas du JSON") from None
    return HolderData(data, signer, signed_at)


def _signer(signed: Any, signer_info: Any) -> x509.Certificate:
    sid = signer_info["sid"]
    if sid.name != "issuer_and_serial_number":
        raise Unverified("signataire désigné autrement que par émetteur et numéro de série")
    issuer, serial = sid.chosen["issuer"], sid.chosen["serial_number"].native
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        certificate = choice.chosen
        if certificate.issuer == issuer and certificate.serial_number == serial:
            return x509.load_der_x509_certificate(certificate.dump())
    raise Unverified("le certificat du signataire n'est pas dans la structure CMS")


def _check_signature(signer_info: Any, signer: x509.Certificate, content: bytes) -> dt.datetime | None:
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    if digest_name not in DIGESTS:
        raise Unverified(f"condensé {digest_name} non pris en charge")
    algorithm = DIGESTS[digest_name]
    attributes = signer_info["signed_attrs"]
    if not attributes:
        raise Unverified("pas d'attributs signés")
    values = {attribute["type"].native: attribute["values"][0].native for attribute in attributes}
    if values.get("content_type") != "data":
        raise Unverified("type de contenu signé inattendu")
    digest = hashes.Hash(algorithm)
    digest.update(content)
    if values.get("message_digest") != digest.finalize():
        raise Unverified("le contenu ne correspond pas au condensé signé : données modifiées")
    # RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF, not as the [0] field.
    signed_bytes = b"\x31" + attributes.dump()[1:]
    signature = signer_info["signature"].native
    public_key = signer.public_key()
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, signed_bytes, ec.ECDSA(algorithm))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, signed_bytes, padding.PKCS1v15(), algorithm)
        else:
            raise Unverified("type de clé du signataire non pris en charge")
    except InvalidSignature:
        raise Unverified("signature invalide : données modifiées ou signataire usurpé") from None
    signed_at = values.get("signing_time")
    return signed_at if isinstance(signed_at, dt.datetime) else None


def _check_trusted(signer: x509.Certificate, authorities: list[x509.Certificate]) -> None:
    now = dt.datetime.now(dt.UTC)
    if not signer.not_valid_before_utc <= now <= signer.not_valid_after_utc:
        raise Unverified("le certificat du signataire n'est pas valide aujourd'hui")
    if signer in authorities:
        return
    for authority in authorities:
        if authority.subject != signer.issuer:
            continue
        try:
            signer.verify_directly_issued_by(authority)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return
    raise Unverified("le signataire n'est pas une des autorités du fichier --ca-file")
