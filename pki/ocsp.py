"""The OCSP responder (RFC 6960): answers about card and CA certificates, signed by the CA that issued them.

It reads the rows the CRL reads (``Certificate.revoked_at``) and signs with the CA keys of ``pki.signing``.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import core as asn1_core
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.utils import timezone

from .models import CertificateAuthority
from .signing import OCSP_LIFETIME, ca_certificate, signer

# --- OCSP (RFC 6960) -------------------------------------------------------------------------------
#
# cryptography parses only single-certificate requests and builds only single-response answers, while
# `openssl ocsp -cert a.pem -cert b.pem` (and browsers checking a chain) send several CertIDs in one
# request. Requests are therefore parsed, and responses built and signed, with asn1crypto (a dependency of
# python-pkcs11): one SingleResponse per CertID, each CertID echoed byte for byte.

OCSP_MAX_CERTS = 50  # CertIDs in one request; more is refused as malformed.
_OCSP_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class _CertId:
    der: bytes  # the request's CertID, echoed as is in the answer
    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial_number: int


def _unsuccessful(status: str) -> bytes:
    return asn1_ocsp.OCSPResponse({"response_status": status}).dump()


def _parse_ocsp_request(request_der: bytes) -> tuple[list[_CertId], asn1_ocsp.TBSRequestExtension | None]:
    """The request's CertIDs and its nonce extension; ValueError when it is not a well-formed request."""
    try:
        request = asn1_ocsp.OCSPRequest.load(request_der, strict=True)
        tbs = request["tbs_request"]
        cert_ids = []
        for item in tbs["request_list"]:
            cert_id = item["req_cert"]
            cert_ids.append(
                _CertId(
                    der=cert_id.dump(),
                    hash_algorithm=cert_id["hash_algorithm"]["algorithm"].native,
                    issuer_name_hash=cert_id["issuer_name_hash"].native,
                    issuer_key_hash=cert_id["issuer_key_hash"].native,
                    serial_number=cert_id["serial_number"].native,
                )
            )
        nonce = None
        for extension in tbs["request_extensions"]:
            if extension["extn_id"].native == "nonce":
                extension.native  # noqa: B018 - parse it now: a broken nonce is a malformed request
                nonce = extension
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise ValueError(f"malformed OCSP request: {exc}") from exc
    if not cert_ids or len(cert_ids) > OCSP_MAX_CERTS:
        raise ValueError(f"an OCSP request carries 1 to {OCSP_MAX_CERTS} certificates")
    return cert_ids, nonce


def _ca_for_cert_id(cert_id: _CertId, cas: list[CertificateAuthority]) -> CertificateAuthority | None:
    algorithm = _OCSP_HASHES.get(cert_id.hash_algorithm)
    if algorithm is None:
        return None
    for ca in cas:
        # RFC 6960 §4.1.1: the hash of the issuer's subjectPublicKey BIT STRING value (RSA or EC alike).
        key_bits = asn1_x509.Certificate.load(bytes(ca.der)).public_key["public_key"].contents[1:]
        digest = hashes.Hash(algorithm())
        digest.update(key_bits)
        if digest.finalize() == cert_id.issuer_key_hash:
            return ca
    return None


def ocsp_respond(request_der: bytes) -> bytes:
    """Answer an OCSP request, one status per certificate asked about, from the same revocation rows the
    CRL is built from. All the certificates of one request must come from the same CA (the answer is
    signed by that CA); otherwise, or for a CA that is not ours, the answer is ``unauthorized``."""
    try:
        cert_ids, nonce = _parse_ocsp_request(request_der)
    except ValueError:
        return _unsuccessful("malformed_request")
    cas = list(CertificateAuthority.objects.all())
    found = {_ca_for_cert_id(cert_id, cas) for cert_id in cert_ids}
    if None in found or len(found) != 1:
        return _unsuccessful("unauthorized")
    (ca,) = found
    assert ca is not None
    return _signed_response(ca, cert_ids, nonce)


def _child_serials(ca: CertificateAuthority) -> set[int]:
    """Serials of the subordinate CAs' own certificates (the root answers for the issuing CA: good)."""
    return {ca_certificate(child).serial_number for child in ca.children.all()}


def _cert_status(row: object | None, is_child: bool) -> asn1_ocsp.CertStatus:
    if row is None:
        if is_child:
            return asn1_ocsp.CertStatus(name="good", value=asn1_core.Null())
        return asn1_ocsp.CertStatus(name="unknown", value=asn1_core.Null())
    revoked_at = getattr(row, "revoked_at", None)
    if revoked_at is None:
        return asn1_ocsp.CertStatus(name="good", value=asn1_core.Null())
    revoked: dict[str, object] = {"revocation_time": revoked_at.replace(microsecond=0)}
    reason = getattr(row, "revocation_reason", "")
    if reason:
        revoked["revocation_reason"] = x509.ReasonFlags(reason).name
    return asn1_ocsp.CertStatus(name="revoked", value=revoked)


def _signed_response(
    ca: CertificateAuthority, cert_ids: list[_CertId], nonce: asn1_ocsp.TBSRequestExtension | None
) -> bytes:
    issuer_der = bytes(ca.der)
    issuer = asn1_x509.Certificate.load(issuer_der)
    now = timezone.now().replace(microsecond=0)
    serials = [format(cert_id.serial_number, "x") for cert_id in cert_ids if cert_id.serial_number >= 0]
    rows = {row.serial: row for row in ca.certificates.filter(serial__in=serials)}
    children = _child_serials(ca)
    responses = []
    for cert_id in cert_ids:
        row = rows.get(format(cert_id.serial_number, "x")) if cert_id.serial_number >= 0 else None
        responses.append(
            asn1_ocsp.SingleResponse(
                {
                    "cert_id": asn1_ocsp.CertId.load(cert_id.der),
                    "cert_status": _cert_status(row, cert_id.serial_number in children),
                    "this_update": now,
                    "next_update": now + OCSP_LIFETIME,
                }
            )
        )
    data: dict[str, object] = {
        "responder_id": asn1_ocsp.ResponderId(name="by_key", value=issuer.public_key.sha1),
        "produced_at": now,
        "responses": responses,
    }
    if nonce is not None:
        data["response_extensions"] = [
            {"extn_id": "nonce", "critical": False, "extn_value": nonce["extn_value"].parsed}
        ]
    tbs = asn1_ocsp.ResponseData(data)
    ca_signer = signer(ca)
    signature = ca_signer.sign(tbs.dump())
    algorithm: dict[str, object] = {"algorithm": ca_signer.algorithm.signature_name}
    if ca_signer.algorithm.kind == "rsa":
        algorithm["parameters"] = asn1_core.Null()
    basic = asn1_ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": tbs,
            "signature_algorithm": algorithm,
            "signature": signature,
            "certs": [issuer],
        }
    )
    return asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    ).dump()
