"""The OCSP responder (RFC 6960, RFC 5019 lightweight profile): a delegated responder per CA.

Each CA certifies a responder key kept on the OCSP token (``hsm.token("ocsp")``): a certificate with
id-kp-OCSPSigning and id-pkix-ocsp-nocheck, issued directly by that CA (RFC 6960 §4.2.2.2). The web
processes sign answers with that key and need only the OCSP token's PIN: they never open the CA or root token.
The certificates are made by ``ensure_responders`` (end of ``pki_init``) and renewed by ``manage.py
pki_ocsp_roll`` (a new key, new certificates: an operator's command, with the CA and root PINs).

Answers about one certificate without a nonce (RFC 5019) are cached per certificate (``OcspResponse``), each
with the revocation state it was made for. A request reads the certificate's row and its cached answer in
one query: the answer is reused only when made for the row's *current* state and still within its first
half-life; otherwise a fresh one is signed and stored. A revocation therefore shows at the very next request,
without anyone having to invalidate anything. Requests with a nonce, or about several certificates, are
signed fresh.

``respond`` is the one entry point of both front ends, the Django view (``pki.ocsp_views``) and the dedicated
responder process (``pki.ocsp_server``, ``manage.py run_ocsp``): it returns the answer with what the HTTP
layer and a process's memory need to know about it (``Answer``). A process that keeps answers in memory
LISTENs on ``REVOKED_CHANNEL``: each revocation notifies the ids of the certificates it revoked, in its own
transaction (delivered at its commit; ``notify_revoked``), and a change of responders notifies ``*``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from asn1crypto import core as asn1_core
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import audit, hsm, keys
from .models import AuditEvent, Certificate, CertificateAuthority, OcspResponder, OcspResponse

logger = logging.getLogger(__name__)

GOOD_LIFETIME = dt.timedelta(days=1)  # nextUpdate - thisUpdate of an answer (RFC 5019 §2.2.4)
RENEW_BEFORE = dt.timedelta(days=30)  # a responder certificate this close to its end is replaced
OCSP_MAX_CERTS = 50  # CertIDs in one request; more is refused as malformed.
_OCSP_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_PROCESS_CACHE_SECONDS = 30.0  # how long a web process keeps the CAs and their responders in memory
REVOKED_CHANNEL = "cpx_ocsp_revoked"  # pg_notify channel: certificate ids revoked, or "*" (drop everything)
_NOTIFY_MAX = 7900  # bytes of payload (PostgreSQL's limit is 8000): more ids are sent as "*"


# --- responder certificates -------------------------------------------------------------------------


def _responder_subject(ca: CertificateAuthority) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, "TEST" if settings.CPX_PKI_TEST_HIERARCHY else "ANS"
            ),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IGC-SANTE"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Répondeur OCSP {ca.name}"[:64]),
        ]
    )


def _key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _certify(
    ca: CertificateAuthority, public_key: keys.PublicKey, label: str, algorithm: keys.Algorithm
) -> OcspResponder:
    """The CA certifies the responder key, on its own token (the root's or the issuing CAs'): the same key
    object as ``signing.signer(ca)`` (not imported: ``signing.pki_init`` calls this module)."""
    issuer = x509.load_der_x509_certificate(bytes(ca.der))
    ca_signer = hsm.ca_signer(ca)
    now = timezone.now()
    validity = keys.VALIDITY["ocsp-root" if ca.parent_id is None else "ocsp"]
    not_before = now - dt.timedelta(minutes=5)
    not_after = min(now + validity, issuer.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_responder_subject(ca))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    cert = hsm.sign_certificate(builder, ca_signer)
    return OcspResponder.objects.create(
        authority=ca,
        key_label=label,
        algorithm=algorithm.name,
        der=cert.public_bytes(serialization.Encoding.DER),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def _key_on_token(tok: hsm.Token, label: str) -> keys.PublicKey | None:
    found = hsm.public_key(tok, label)
    if found is not None and hsm.has_private_key(tok, label):
        return found
    return None


def _new_key(tok: hsm.Token, algorithm: keys.Algorithm, fresh: bool) -> tuple[str, keys.PublicKey]:
    """A responder key labelled ``ocsp-<yyyymmddHHMM>``. Without ``roll``, a key of that minute already on
    the token (a database rebuilt beside a kept token) is reused unless ``fresh`` (a roll, a renewal)."""
    stamp = f"ocsp-{timezone.now():%Y%m%d%H%M}"
    for n in range(1, 100):
        label = stamp if n == 1 else f"{stamp}-{n}"
        if hsm.public_key(tok, label) is None:
            return label, hsm.generate(tok, label, algorithm)
        if not fresh:
            existing = _key_on_token(tok, label)
            if existing is not None and keys.algorithm_of(existing) == algorithm:
                return label, existing
    raise hsm.TokenUnavailable(f"too many responder keys labelled {stamp} on {tok.label}")


def ensure_responders(*, actor: str, roll: bool = False) -> list[OcspResponder]:
    """Give every CA a responder certificate for the current responder key, valid for more than
    ``RENEW_BEFORE``. A missing key, a certificate about to end, or ``roll`` mean a new key (on the OCSP
    token) certified by every CA; a CA added since is certified for the current key. Each certificate
    made writes an ``ocsp_key`` audit row in the same transaction. Needs the OCSP token's PIN, and the CA
    and root tokens' PINs whenever a certificate must be signed. Returns the certificates made."""
    tok = hsm.token("ocsp")
    hsm.ensure_token(tok)
    algorithm = keys.algorithm_for("ocsp")
    made: list[OcspResponder] = []
    with transaction.atomic():
        cas = list(CertificateAuthority.objects.select_for_update().order_by("id"))
        now = timezone.now()
        newest = OcspResponder.objects.filter(authority__in=cas).order_by("-created_at", "-id").first()
        label = None if roll or newest is None else newest.key_label
        public_key = _key_on_token(tok, label) if label else None
        current = {
            ca.pk: OcspResponder.objects.filter(authority=ca, key_label=label, not_after__gt=now)
            .order_by("-not_after")
            .first()
            for ca in cas
        }
        expiring = any(r is not None and r.not_after <= now + RENEW_BEFORE for r in current.values())
        new_key = public_key is None or expiring
        if new_key:
            label, public_key = _new_key(tok, algorithm, fresh=roll or expiring)
            needed = cas
        else:
            needed = [ca for ca in cas if current[ca.pk] is None]
        assert label is not None and public_key is not None
        for ca in needed:
            responder = _certify(ca, public_key, label, keys.algorithm_of(public_key))
            cert = x509.load_der_x509_certificate(bytes(responder.der))
            audit.record(
                AuditEvent.Operation.OCSP_KEY,
                actor=actor,
                authority=ca,
                serials=[format(cert.serial_number, "x")],
                detail={
                    "key_label": label,
                    "algorithm": responder.algorithm,
                    "new_key": new_key,
                    "roll": roll,
                    "not_after": responder.not_after.isoformat(),
                },
            )
            made.append(responder)
        if made:
            # Answers signed by the previous responders stay valid, but a roll wants the new key at once.
            OcspResponse.objects.filter(certificate__authority__in=[r.authority_id for r in made]).delete()
            notify_revoked(None)  # responder processes drop what they keep in memory
    forget()
    return made


# --- what a web process keeps in memory --------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # compared by identity: one per CA in a snapshot
class _Authority:
    """A CA as the responder needs it: the hashes a CertID names it by, its children's serials."""

    pk: int
    name_hashes: dict[str, bytes]
    key_hashes: dict[str, bytes]
    child_serials: frozenset[int]


@dataclass(frozen=True)
class _Responder:
    row_pk: int
    signer: hsm.Signer
    cert: asn1_x509.Certificate
    key_hash: bytes  # ResponderID byKey (RFC 6960 §4.2.1: SHA-1 of the subjectPublicKey BIT STRING value)
    not_after: dt.datetime


Responder = _Responder  # what ``current_responder`` returns


def _hashes_of(data: bytes) -> dict[str, bytes]:
    out = {}
    for name, algorithm in _OCSP_HASHES.items():
        digest = hashes.Hash(algorithm())
        digest.update(data)
        out[name] = digest.finalize()
    return out


def _key_bits(cert: asn1_x509.Certificate) -> bytes:
    return bytes(cert["tbs_certificate"]["subject_public_key_info"]["public_key"].contents[1:])


_memory_lock = threading.Lock()
_memory: dict[str, tuple[float, object]] = {}


def forget() -> None:
    """Drop what this process keeps in memory (after a change of CAs or responders)."""
    with _memory_lock:
        _memory.clear()


def notify_revoked(certificate_ids: Iterable[int] | None) -> None:
    """Tell the responder processes (``pki.ocsp_server``) which certificates changed state, in the caller's
    transaction: PostgreSQL delivers the notification at its commit, and not at all on a rollback. ``None``
    (or too many ids for one payload) means "drop everything"."""
    ids = sorted(set(certificate_ids)) if certificate_ids is not None else None
    if ids is not None and not ids:
        return
    payload = ",".join(str(pk) for pk in ids) if ids is not None else "*"
    if len(payload) > _NOTIFY_MAX:
        payload = "*"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [REVOKED_CHANNEL, payload])


def _authorities(reload: bool = False) -> list[_Authority]:
    with _memory_lock:
        expires, value = _memory.get("cas", (0.0, None))
        if value is not None and not reload and time.monotonic() < expires:
            return value  # type: ignore[return-value]
    rows = list(CertificateAuthority.objects.order_by("id").values_list("pk", "parent_id", "der"))
    children: dict[int, set[int]] = {}
    loaded = {pk: asn1_x509.Certificate.load(bytes(der)) for pk, _parent, der in rows}
    for pk, parent, _der in rows:
        if parent is not None:
            children.setdefault(parent, set()).add(loaded[pk].serial_number)
    authorities = [
        _Authority(
            pk=pk,
            name_hashes=_hashes_of(loaded[pk].subject.dump()),
            key_hashes=_hashes_of(_key_bits(loaded[pk])),
            child_serials=frozenset(children.get(pk, ())),
        )
        for pk, _parent, _der in rows
    ]
    with _memory_lock:
        _memory["cas"] = (time.monotonic() + _PROCESS_CACHE_SECONDS, authorities)
    return authorities


def current_responder(ca_pk: int) -> _Responder | None:
    """The CA's responder as this process keeps it (certificate, key hash, key on the OCSP token)."""
    return _responder(ca_pk)


def _responder(ca_pk: int) -> _Responder | None:
    """The CA's newest responder certificate valid now, and its key on the OCSP token."""
    key = f"responder:{ca_pk}"
    now = timezone.now()
    with _memory_lock:
        expires, value = _memory.get(key, (0.0, None))
    if isinstance(value, _Responder) and time.monotonic() < expires and value.not_after > now:
        return value
    row = (
        OcspResponder.objects.filter(authority_id=ca_pk, not_before__lte=now, not_after__gt=now)
        .order_by("-created_at", "-id")
        .first()
    )
    if row is None:
        return None
    cert = asn1_x509.Certificate.load(bytes(row.der))
    responder = _Responder(
        row_pk=row.pk,
        signer=hsm.Signer(hsm.token("ocsp"), row.key_label, keys.ALGORITHMS[row.algorithm]),
        cert=cert,
        key_hash=hashlib.sha1(_key_bits(cert)).digest(),  # noqa: S324 - RFC 6960 KeyHash is SHA-1
        not_after=row.not_after,
    )
    with _memory_lock:
        _memory[key] = (time.monotonic() + _PROCESS_CACHE_SECONDS, responder)
    return responder


# --- requests ----------------------------------------------------------------------------------------
#
# cryptography parses only single-certificate requests and builds only single-response answers, while
# `openssl ocsp -cert a.pem -cert b.pem` (and browsers checking a chain) send several CertIDs in one
# request. Requests are therefore parsed, and responses built, with asn1crypto (a dependency of
# python-pkcs11): one SingleResponse per CertID, each CertID echoed byte for byte.


@dataclass(frozen=True)
class _CertId:
    der: bytes  # the request's CertID, echoed as is in the answer
    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial_number: int

    @property
    def key(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    @property
    def serial(self) -> str | None:
        return format(self.serial_number, "x") if self.serial_number >= 0 else None


@dataclass(frozen=True)
class Answer:
    """An OCSP response and what the HTTP layer says about it (RFC 5019 §6.2)."""

    der: bytes
    successful: bool
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    cacheable: bool = False  # no nonce: an HTTP cache may keep it until next_update
    # About one issued certificate, no nonce (the OcspResponse cache): which certificate, and until when the
    # answer may be served again (the half-life) -- as long as that certificate's state does not change.
    certificate_id: int | None = None
    refresh_at: dt.datetime | None = None

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.der).hexdigest()[:40] + '"'


def unsuccessful(status: str) -> Answer:
    """An answer without response bytes: "malformed_request", "internal_error", "try_later", ..."""
    return _unsuccessful(status)


def _unsuccessful(status: str) -> Answer:
    return Answer(asn1_ocsp.OCSPResponse({"response_status": status}).dump(), successful=False)


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


def _ca_for_cert_id(cert_id: _CertId, cas: list[_Authority]) -> _Authority | None:
    for ca in cas:
        if (
            ca.key_hashes.get(cert_id.hash_algorithm) == cert_id.issuer_key_hash
            and ca.name_hashes.get(cert_id.hash_algorithm) == cert_id.issuer_name_hash
        ):
            return ca
    return None


def respond(request_der: bytes) -> Answer:
    """Answer an OCSP request, one status per certificate asked about, from the rows the CRL is built from.
    All the certificates of one request must come from the same CA (the answer is signed by that CA's
    responder); otherwise, or for a CA that is not ours, the answer is ``unauthorized``."""
    try:
        cert_ids, nonce = _parse_ocsp_request(request_der)
    except ValueError:
        return _unsuccessful("malformed_request")
    cas = _authorities()
    found = {_ca_for_cert_id(cert_id, cas) for cert_id in cert_ids}
    if None in found:
        cas = _authorities(reload=True)  # a CA created since this process looked
        found = {_ca_for_cert_id(cert_id, cas) for cert_id in cert_ids}
    if None in found or len(found) != 1:
        return _unsuccessful("unauthorized")
    (ca,) = found
    assert ca is not None
    if nonce is None and len(cert_ids) == 1 and cert_ids[0].serial_number not in ca.child_serials:
        return _cached_or_fresh(ca, cert_ids[0])
    return _fresh(ca, cert_ids, nonce)


def ocsp_respond(request_der: bytes) -> bytes:
    return respond(request_der).der


# --- answers -----------------------------------------------------------------------------------------

# The certificate's revocation state and its cached answer for this CertID, in one statement (one snapshot):
# an answer is served only for the state it was made for. Raw SQL: this is the hot path of every RFC 5019 GET.
_CACHE_QUERY = (
    "SELECT c.id, c.revoked_at, c.revocation_reason, r.der, r.revoked_at, r.revocation_reason,"
    " r.this_update, r.next_update, r.refresh_at"
    f" FROM {Certificate._meta.db_table} c LEFT JOIN {OcspResponse._meta.db_table} r"
    " ON r.certificate_id = c.id AND r.cert_id = %s"
    " WHERE c.authority_id = %s AND c.serial = %s"
)


def _cached_or_fresh(ca: _Authority, cert_id: _CertId) -> Answer:
    """RFC 5019: the cached answer when it was made for the certificate's current revocation state and is
    within its first half-life (both read in one query), else a fresh one, stored for the next requests."""
    row = None
    if cert_id.serial is not None:
        with connection.cursor() as cursor:
            cursor.execute(_CACHE_QUERY, [cert_id.key, ca.pk, cert_id.serial])
            row = cursor.fetchone()
    if row is None:  # never issued by this CA: "unknown", signed fresh (nothing to cache against)
        return _fresh(ca, [cert_id], None)
    pk, revoked_at, reason, der, made_revoked_at, made_reason, this_update, next_update, refresh_at = row
    now = timezone.now()
    if der is not None and made_revoked_at == revoked_at and made_reason == reason and now < refresh_at:
        return Answer(
            bytes(der),
            True,
            this_update,
            next_update,
            cacheable=True,
            certificate_id=pk,
            refresh_at=refresh_at,
        )
    state = _State(revoked_at, reason)
    answer, responder = _signed(ca, [cert_id], {cert_id.serial: state}, None)
    if responder is not None and answer.this_update and answer.next_update:
        made, until = answer.this_update, answer.next_update
        refresh = made + (until - made) / 2  # the half-life
        answer = dataclasses.replace(answer, certificate_id=pk, refresh_at=refresh)
        OcspResponse.objects.bulk_create(
            [
                OcspResponse(
                    certificate_id=pk,
                    cert_id=cert_id.key,
                    responder_id=responder.row_pk,
                    revoked_at=revoked_at,
                    revocation_reason=reason,
                    this_update=made,
                    next_update=until,
                    refresh_at=refresh,
                    der=answer.der,
                )
            ],
            update_conflicts=True,
            unique_fields=["certificate", "cert_id"],
            update_fields=[
                "responder",
                "revoked_at",
                "revocation_reason",
                "this_update",
                "next_update",
                "refresh_at",
                "der",
            ],
        )
    return answer


@dataclass(frozen=True)
class _State:
    revoked_at: dt.datetime | None
    reason: str


def _fresh(ca: _Authority, cert_ids: list[_CertId], nonce: asn1_ocsp.TBSRequestExtension | None) -> Answer:
    serials = [s for s in (c.serial for c in cert_ids) if s is not None]
    rows = Certificate.objects.filter(authority_id=ca.pk, serial__in=serials).values_list(
        "serial", "revoked_at", "revocation_reason"
    )
    states: dict[str | None, _State] = {
        serial: _State(revoked_at, reason) for serial, revoked_at, reason in rows
    }
    return _signed(ca, cert_ids, states, nonce)[0]


def _cert_status(cert_id: _CertId, ca: _Authority, states: dict[str | None, _State]) -> asn1_ocsp.CertStatus:
    state = states.get(cert_id.serial) if cert_id.serial is not None else None
    if state is None:
        # The root answers for the issuing CAs it certified (none revoked: that would be a ceremony).
        name = "good" if cert_id.serial_number in ca.child_serials else "unknown"
        return asn1_ocsp.CertStatus(name=name, value=asn1_core.Null())
    if state.revoked_at is None:
        return asn1_ocsp.CertStatus(name="good", value=asn1_core.Null())
    revoked: dict[str, object] = {"revocation_time": state.revoked_at.replace(microsecond=0)}
    if state.reason:
        revoked["revocation_reason"] = x509.ReasonFlags(state.reason).name
    return asn1_ocsp.CertStatus(name="revoked", value=revoked)


def _signed(
    ca: _Authority,
    cert_ids: list[_CertId],
    states: dict[str | None, _State],
    nonce: asn1_ocsp.TBSRequestExtension | None,
) -> tuple[Answer, _Responder | None]:
    """A BasicOCSPResponse signed by the CA's delegated responder (key on the OCSP token), its
    certificate in ``certs`` and named byKey. thisUpdate is now; nextUpdate a day later, never past the
    responder's certificate."""
    responder = _responder(ca.pk)
    if responder is None:
        logger.error("OCSP: no valid responder certificate for CA %s (run pki_ocsp_roll)", ca.pk)
        return _unsuccessful("try_later"), None
    now = timezone.now().replace(microsecond=0)
    next_update = min(now + GOOD_LIFETIME, responder.not_after.replace(microsecond=0))
    responses = [
        asn1_ocsp.SingleResponse(
            {
                "cert_id": asn1_ocsp.CertId.load(cert_id.der),
                "cert_status": _cert_status(cert_id, ca, states),
                "this_update": now,
                "next_update": next_update,
            }
        )
        for cert_id in cert_ids
    ]
    data: dict[str, object] = {
        "responder_id": asn1_ocsp.ResponderId(name="by_key", value=responder.key_hash),
        "produced_at": now,
        "responses": responses,
    }
    if nonce is not None:
        data["response_extensions"] = [
            {"extn_id": "nonce", "critical": False, "extn_value": nonce["extn_value"].parsed}
        ]
    tbs = asn1_ocsp.ResponseData(data)
    try:
        signature = responder.signer.sign(tbs.dump())
    except hsm.TokenUnavailable:
        logger.exception("OCSP: the responder key of CA %s cannot sign", ca.pk)
        forget()
        return _unsuccessful("try_later"), None
    algorithm: dict[str, object] = {"algorithm": responder.signer.algorithm.signature_name}
    if responder.signer.algorithm.kind == "rsa":
        algorithm["parameters"] = asn1_core.Null()
    basic = asn1_ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": tbs,
            "signature_algorithm": algorithm,
            "signature": signature,
            "certs": [responder.cert],
        }
    )
    der = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    ).dump()
    return Answer(der, True, now, next_update, cacheable=nonce is None), responder
