"""The audit log's daily checkpoints: the chain's head, signed on the CA token, published under /pki/audit/.

A checkpoint is a canonical JSON document ``{"version", "day", "at", "seq", "hash", "previous"}`` (the last
row's seq and hash, and the SHA-256 of the previous checkpoint's document) with a detached CMS SignedData
(RFC 5652) made by the audit key ``cpx-audit`` on the CA token. The key's certificate is issued by the root
at its ceremony (``pki_init``, or ``audit_checkpoint`` run with the root token's PIN), carries the policy
``<CPX_PKI_POLICY_ARC>.9.1`` and travels in every signature, so that anyone holding the root certificate
checks a checkpoint with ``openssl cms -verify`` (docs/audit_log.md). The signing service makes one a day
(task ``pki.audit_checkpoint``); ``audit_verify`` checks them all against the chain.

Like the CRLs, the checkpoints are rows (``audit.models.Checkpoint``, append-only), served as stored by the
web, which never signs. Outsiders keep their own copies: ``audit_verify --copies DIR`` checks those too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from asn1crypto import algos as asn1_algos
from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit import log
from audit.models import Checkpoint, CheckpointSigner

from . import audit, hsm, keys, locations, signing
from .models import AuditEvent, CertificateAuthority

KEY_LABEL = "cpx-audit"
VERSION = 1
RENEW_BEFORE = dt.timedelta(days=30)  # a certificate this close to its end is replaced at the next ceremony
LOCK = 0x43505843  # "CPXC": checkpoint makers take turns (one per day)
FIELDS = {"version", "day", "at", "seq", "hash", "previous"}


class AuditKeyMissing(Exception):
    """No certified audit key: the root's ceremony (``pki_init``) certifies it."""


class CheckpointInvalid(Exception):
    """A checkpoint that does not verify, or that disagrees with the published ones."""


def policy_oid() -> str:
    """The certificate policy that marks a certificate as the audit log's (and nothing else's)."""
    return f"{settings.CPX_PKI_POLICY_ARC}.9.1"


def _spki(public_key: Any) -> bytes:
    return bytes(
        public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _root() -> CertificateAuthority:
    root = CertificateAuthority.objects.filter(parent__isnull=True).order_by("id").first()
    if root is None:
        raise signing.PkiNotInitialized("run `manage.py pki_init` first")
    return root


# --- the audit key and its certificate ------------------------------------------------------------------


def current_signer(*, margin: dt.timedelta = dt.timedelta(0)) -> CheckpointSigner | None:
    """The newest certificate of the audit key valid for at least ``margin`` more."""
    rows = CheckpointSigner.objects.filter(key_label=KEY_LABEL, not_after__gt=timezone.now() + margin)
    return rows.order_by("-not_after", "-id").first()


def ensure_audit_key(*, actor: str) -> tuple[CheckpointSigner, bool]:
    """The audit key on the CA token (generated there if missing, never overwritten) and a certificate for
    it issued by the root, made if none is valid for ``RENEW_BEFORE`` more. Needs the CA token's PIN, and
    the root token's when a certificate is made (each one writes an ``issue`` row of the CA's audit trail).
    Returns the signer and whether a certificate was made."""
    tok = hsm.token("ca")
    hsm.ensure_token(tok)
    public_key = hsm.public_key(tok, KEY_LABEL)
    current = current_signer(margin=RENEW_BEFORE)
    if (
        current is not None
        and public_key is not None
        and _spki(public_key) == _spki(_certificate(current).public_key())
    ):
        return current, False
    if public_key is None:
        public_key = hsm.generate(tok, KEY_LABEL, keys.algorithm_for("ca"))
    elif not hsm.has_private_key(tok, KEY_LABEL):
        raise AuditKeyMissing(f"the token {tok.label} has the public key {KEY_LABEL} but not its private key")
    root = _root()
    cert = _certify(root, public_key)
    serial = format(cert.serial_number, "x")
    with transaction.atomic():
        row = CheckpointSigner.objects.create(
            key_label=KEY_LABEL,
            algorithm=keys.algorithm_of(public_key).name,
            serial=serial,
            der=cert.public_bytes(serialization.Encoding.DER),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )
        audit.record(
            AuditEvent.Operation.ISSUE,
            actor=actor,
            authority=root,
            serials=[serial],
            detail={
                "purpose": "audit log checkpoints",
                "key_label": KEY_LABEL,
                "not_after": row.not_after.isoformat(),
            },
        )
    return row, True


def _certificate(row: CheckpointSigner) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(row.der))


def _certify(root: CertificateAuthority, public_key: keys.PublicKey) -> x509.Certificate:
    """The root certifies the audit key: an end-entity certificate for signing (digitalSignature and
    nonRepudiation), with the audit policy. No CRL distribution point: the root's CRL covers CA
    certificates only (its IDP says so); a compromised audit key is replaced at a ceremony."""
    issuer = signing.ca_certificate(root)
    now = timezone.now()
    not_after = min(now + keys.VALIDITY["ca"], issuer.not_valid_after_utc)
    names = [attribute for attribute in issuer.subject if attribute.oid != NameOID.COMMON_NAME]
    names.append(x509.NameAttribute(NameOID.COMMON_NAME, "CPX JOURNAL D'AUDIT"))
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    ca_issuers = x509.AccessDescription(
        x509.AuthorityInformationAccessOID.CA_ISSUERS,
        x509.UniformResourceIdentifier(locations.ca_certificate_url(root)),
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(names))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(signing.certificate_policies([policy_oid()]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .add_extension(x509.AuthorityInformationAccess([ca_issuers]), critical=False)
    )
    return hsm.sign_certificate(builder, signing.signer(root))


# --- making a checkpoint -------------------------------------------------------------------------------


def digest(document: bytes) -> str:
    return hashlib.sha256(document).hexdigest()


def make_checkpoint(*, actor: str, day: dt.date | None = None) -> tuple[Checkpoint, bool]:
    """Sign and store the checkpoint of ``day`` (today, local time): the chain's head now. Idempotent: a
    day's checkpoint, once made, is returned as it is. Runs in the signing service (the CA token's PIN).
    Returns the checkpoint and whether it was made by this call."""
    day = day or timezone.localdate()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
        existing = Checkpoint.objects.filter(day=day).first()
        if existing is not None:
            return existing, False
        latest = Checkpoint.objects.order_by("-day").first()
        if latest is not None and latest.day > day:
            raise ValueError(f"a checkpoint of {latest.day} exists: none is made for an earlier day")
        signer = current_signer()
        if signer is None:
            raise AuditKeyMissing("no certified audit key: run `manage.py pki_init` (the root's ceremony)")
        seq, head_hash = log.head()
        at = timezone.now()
        previous = digest(bytes(latest.document)) if latest is not None else log.GENESIS
        document = log.canonical_json(
            {
                "version": VERSION,
                "day": day.isoformat(),
                "at": log.timestamp(at),
                "seq": seq,
                "hash": head_hash,
                "previous": previous,
            }
        )
        checkpoint = Checkpoint.objects.create(
            day=day,
            at=at,
            seq=seq,
            hash=head_hash,
            previous=previous,
            document=document,
            signature=sign_detached(document, signer),
            signer=signer,
        )
        log.append(
            "audit.checkpoint_signed",
            actor=actor,
            object_type="checkpoint",
            object_id=day.isoformat(),
            detail={
                "seq": seq,
                "hash": head_hash,
                "document_sha256": digest(document),
                "signer": signer.serial,
            },
        )
    return checkpoint, True


def sign_detached(content: bytes, signer: CheckpointSigner) -> bytes:
    """A detached CMS SignedData over ``content``: id-data, signed attributes (contentType, messageDigest,
    signingTime), the signer's certificate included; signed on the CA token by the audit key."""
    key = hsm.Signer(hsm.token("ca"), signer.key_label, keys.ALGORITHMS[signer.algorithm])
    algorithm = key.algorithm
    digest_name = "sha384" if algorithm.bits >= 384 else "sha256"
    hasher = hashes.Hash(algorithm.hash())
    hasher.update(content)
    certificate = asn1_x509.Certificate.load(bytes(signer.der))
    signed_attrs = asn1_cms.CMSAttributes(
        [
            asn1_cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            asn1_cms.CMSAttribute({"type": "message_digest", "values": [hasher.finalize()]}),
            asn1_cms.CMSAttribute(
                {"type": "signing_time", "values": [asn1_cms.Time({"utc_time": timezone.now()})]}
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
            "digest_algorithm": asn1_algos.DigestAlgorithm({"algorithm": digest_name}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": asn1_algos.SignedDigestAlgorithm({"algorithm": algorithm.signature_name}),
            "signature": key.sign(signed_attrs.dump()),  # over the DER of the SET OF (RFC 5652 §5.4)
        }
    )
    signed_data = asn1_cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [asn1_algos.DigestAlgorithm({"algorithm": digest_name})],
            "encap_content_info": {"content_type": "data"},  # detached: the document is published beside
            "certificates": [certificate],
            "signer_infos": [signer_info],
        }
    )
    return bytes(asn1_cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


# --- verifying checkpoints -----------------------------------------------------------------------------

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha384": hashes.SHA384}


def _signer_certificate(signed_data: Any, signer_info: Any) -> x509.Certificate:
    sid = signer_info["sid"]
    if sid.name != "issuer_and_serial_number":
        raise ValueError("the signer is not named by issuer and serial number")
    wanted = sid.chosen
    for choice in signed_data["certificates"] or []:
        cert = choice.chosen
        if not isinstance(cert, asn1_x509.Certificate):
            continue
        if cert.serial_number == wanted["serial_number"].native and cert.issuer == wanted["issuer"]:
            return x509.load_der_x509_certificate(cert.dump())
    raise ValueError("the signer's certificate is not in the signature")


def _check_certificate(cert: x509.Certificate, root: x509.Certificate, signed_at: dt.datetime) -> None:
    try:
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        raise ValueError("the signer's certificate is not issued by the root CA") from None
    if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
        raise ValueError("the signer's certificate is a CA's")
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        policies = x509.CertificatePolicies([])
    if policy_oid() not in {policy.policy_identifier.dotted_string for policy in policies}:
        raise ValueError("the signer's certificate is not the audit log's (no audit policy)")
    if not cert.not_valid_before_utc <= signed_at <= cert.not_valid_after_utc:
        raise ValueError("signed outside the validity of the signer's certificate")


def _verify_signature(cert: x509.Certificate, signer_info: Any, document: bytes) -> dt.datetime:
    """Check the signed attributes against ``document`` and the signature over them; return signingTime."""
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        raise ValueError(f"unexpected digest algorithm {digest_name}")
    algorithm = _HASHES[digest_name]()
    attrs = {attr["type"].native: attr["values"][0].native for attr in signer_info["signed_attrs"]}
    hasher = hashes.Hash(algorithm)
    hasher.update(document)
    if attrs.get("content_type") != "data" or attrs.get("message_digest") != hasher.finalize():
        raise ValueError("the document is not the one signed (message digest differs)")
    signed = b"\x31" + signer_info["signed_attrs"].dump()[1:]  # the [0] IMPLICIT SET OF, as a SET OF
    signature = signer_info["signature"].native
    public_key = cert.public_key()
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, signed, ec.ECDSA(algorithm))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, signed, padding.PKCS1v15(), algorithm)
        else:
            raise ValueError("unsupported signer key")
    except InvalidSignature:
        raise ValueError("bad signature") from None
    signed_at = attrs.get("signing_time")
    if not isinstance(signed_at, dt.datetime):
        raise ValueError("no signing time")
    return signed_at


def _parse_document(document: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(document)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the document is not JSON") from None
    if not isinstance(parsed, dict) or set(parsed) != FIELDS or log.canonical_json(parsed) != document:
        raise ValueError("the document is not a canonical checkpoint")
    if parsed["version"] != VERSION or not isinstance(parsed["seq"], int) or parsed["seq"] < 0:
        raise ValueError("unknown checkpoint version, or a bad seq")
    return parsed


def verify_checkpoint(
    document: bytes, signature: bytes, root: x509.Certificate, *, name: str
) -> dict[str, Any]:
    """The checkpoint's fields, once its signature is checked: a detached CMS SignedData by a certificate
    that the root issued with the audit policy, over exactly ``document``. Raises CheckpointInvalid."""
    try:
        info = asn1_cms.ContentInfo.load(signature)
        if info["content_type"].native != "signed_data":
            raise ValueError("not a CMS SignedData")
        signed_data = info["content"]
        signer_infos = list(signed_data["signer_infos"])
        if len(signer_infos) != 1:
            raise ValueError("not exactly one signer")
        cert = _signer_certificate(signed_data, signer_infos[0])
        signed_at = _verify_signature(cert, signer_infos[0], document)
        _check_certificate(cert, root, signed_at)
        return _parse_document(document)
    except CheckpointInvalid:
        raise
    except Exception as exc:  # a malformed signature fails as a bad one, whatever the parser's error
        raise CheckpointInvalid(f"{name}: signature check failed: {exc}") from None


def _published() -> Iterator[Checkpoint]:
    return Checkpoint.objects.order_by("day").iterator(chunk_size=100)


def check_published(root: x509.Certificate) -> list[log.Anchor]:
    """Verify every published checkpoint, in order: its signature, its row against its document, and the
    chain of checkpoints (each names the previous one's digest, and no chain is shorter than the one
    before). Returns what they say of the log, for ``audit.log.verify``. Raises CheckpointInvalid."""
    anchors: list[log.Anchor] = []
    previous, previous_name, previous_seq = log.GENESIS, "the start", 0
    for row in _published():
        name = row.file_name
        fields = verify_checkpoint(bytes(row.document), bytes(row.signature), root, name=name)
        stored = {"day": row.day.isoformat(), "seq": row.seq, "hash": row.hash, "previous": row.previous}
        if any(fields[key] != value for key, value in stored.items()):
            raise CheckpointInvalid(f"{name}: its row disagrees with its signed document")
        if fields["previous"] != previous:
            raise CheckpointInvalid(
                f"{name}: does not follow {previous_name} (a checkpoint between them was removed or changed)"
            )
        if fields["seq"] < previous_seq:
            raise CheckpointInvalid(f"{name}: covers {fields['seq']} rows, fewer than {previous_name}")
        anchors.append(log.Anchor(fields["seq"], fields["hash"], name))
        previous, previous_name, previous_seq = digest(bytes(row.document)), name, fields["seq"]
    return anchors


def check_copies(directory: Path, root: x509.Certificate) -> list[log.Anchor]:
    """Verify checkpoints kept outside the platform (``checkpoint-<day>.json`` and ``.json.p7s`` files, as
    downloaded from /pki/audit/): each must verify and be the one still published for its day."""
    anchors: list[log.Anchor] = []
    published = {row.file_name: bytes(row.document) for row in _published()}
    for path in sorted(directory.glob("checkpoint-*.json")):
        signature = path.with_name(path.name + ".p7s")
        if not signature.exists():
            raise CheckpointInvalid(f"{path}: no signature beside it ({signature.name})")
        document = path.read_bytes()
        fields = verify_checkpoint(document, signature.read_bytes(), root, name=str(path))
        if f"checkpoint-{fields['day']}.json" != path.name:
            raise CheckpointInvalid(f"{path}: signed for the day {fields['day']}, not its file's")
        if path.name not in published:
            raise CheckpointInvalid(f"{path}: a signed checkpoint that is no longer published (removed)")
        if published[path.name] != document:
            raise CheckpointInvalid(f"{path}: differs from the published {path.name}")
        anchors.append(log.Anchor(fields["seq"], fields["hash"], str(path)))
    return anchors


def has_checkpoints() -> bool:
    return Checkpoint.objects.exists()


def root_certificate(ca_file: Path | None = None) -> x509.Certificate | None:
    """The trust anchor: the given PEM file's self-issued certificate (a chain file holds the root and the
    issuing CAs), else the platform's root."""
    if ca_file is not None:
        certs = x509.load_pem_x509_certificates(ca_file.read_bytes())
        return next((cert for cert in certs if cert.subject == cert.issuer), certs[0])
    root = CertificateAuthority.objects.filter(parent__isnull=True).order_by("id").first()
    return signing.ca_certificate(root) if root is not None else None
