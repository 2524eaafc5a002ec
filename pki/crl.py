"""CRLs that scale: a base CRL on a schedule, delta CRLs within the second of each revocation (RFC 5280 §5).

Each CA has one CRL number sequence (``CertificateAuthority.crl_number``) shared by its base and delta CRLs
(§5.2.4); every CRL is a ``Crl`` row, served as stored by the web (which never signs) and written with its
audit row in the same transaction.

    CRL            extensions (IDP and DeltaCRLIndicator critical)              nextUpdate, re-published
    issuing base   CRLNumber, AKI, IDP (base URL, onlyContainsUserCerts),       7 days, daily
                   freshestCRL (the delta URL)
    issuing delta  CRLNumber, AKI, the base's IDP (byte for byte),              1 hour, every 30 min and on
                   DeltaCRLIndicator (the base's number)                        each revocation
    root           CRLNumber, AKI, IDP (onlyContainsCACerts)                    1 year, by the operator

A delta lists the certificates revoked since ``DELTA_OVERLAP`` before its base's thisUpdate. A revocation
that commits while a base is being built is not in the base's snapshot, but it was stamped (revoked_at) after
its transaction began, and no transaction open when the snapshot was taken began before the base's thisUpdate
minus the overlap (``_base_this_update`` moves thisUpdate back when one did): the delta always has it. The
overlap only repeats entries, which is harmless.

Certificates past their ``not_after`` leave both. A base CRL of a million entries is encoded here, streamed
from the database in chunks into one DER buffer (cryptography's CRL builder copies its list on every entry),
then signed on the CA's token like every other CRL: the builder is used only for the header and extensions.
This module sits below ``pki.signing`` (which calls it from ``pki_init``): it imports no other pki module that
does.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from typing import Any

from cryptography import x509
from django.db import connection, transaction

from . import audit, hsm, keys, locations
from .models import AuditEvent, Certificate, CertificateAuthority, Crl

CRL_LIFETIME = dt.timedelta(days=7)  # an issuing CA's base CRL (published daily)
DELTA_LIFETIME = dt.timedelta(hours=1)  # a delta CRL (re-published every 30 minutes and on each revocation)
ROOT_CRL_LIFETIME = dt.timedelta(days=365)  # the root's CRL, signed only by the operator (`pki_root crl`)
DELTA_OVERLAP = dt.timedelta(hours=1)  # a delta repeats what was revoked this long before its base
BACKDATE = dt.timedelta(minutes=1)  # thisUpdate is backdated this much (relying parties' clocks lag)
CHUNK = 10_000  # rows fetched per round trip when streaming a CRL's entries


class RootCrlRefused(Exception):
    """The root's CRL is signed only by the operator's command (``manage.py pki_root crl``)."""


class NoBaseCrl(Exception):
    """A delta CRL needs a published base CRL of the same CA."""


@functools.lru_cache(maxsize=16)
def _issuer(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


# --- DER, by hand for the entries ------------------------------------------------------------------


def _header(tag: int, length: int) -> bytes:
    if length < 0x80:
        return bytes((tag, length))
    size = (length.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + length.to_bytes(size, "big")


def _tlv(tag: int, content: bytes | bytearray) -> bytes:
    return _header(tag, len(content)) + bytes(content)


def _serial(hex_serial: str) -> bytes:
    raw = bytes.fromhex(hex_serial if len(hex_serial) % 2 == 0 else "0" + hex_serial)
    if raw[0] & 0x80:
        raw = b"\x00" + raw
    return _header(0x02, len(raw)) + raw


def _time(moment: dt.datetime) -> bytes:
    """UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §5.1.2.4, §5.1.2.6)."""
    moment = moment.astimezone(dt.UTC)
    if moment.year < 2050:
        return b"\x17\x0d" + moment.strftime("%y%m%d%H%M%SZ").encode()
    return b"\x18\x0f" + moment.strftime("%Y%m%d%H%M%SZ").encode()


_REASON_CODES = {
    "keyCompromise": 1,
    "cACompromise": 2,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "certificateHold": 6,
    "privilegeWithdrawn": 9,
    "aACompromise": 10,
}
# crlEntryExtensions holding only a reasonCode (id-ce-cRLReasons 2.5.29.21, ENUMERATED), per reason.
_REASON_EXTENSIONS = {
    name: _tlv(0x30, _tlv(0x30, b"\x06\x03\x55\x1d\x15" + _tlv(0x04, bytes((0x0A, 1, code)))))
    for name, code in _REASON_CODES.items()
}


def _entry(hex_serial: str, revoked_at: dt.datetime, reason: str) -> bytes:
    """One revokedCertificates element: serial, revocation date, reasonCode unless unspecified."""
    body = _serial(hex_serial) + _time(revoked_at) + _REASON_EXTENSIONS.get(reason, b"")
    return _header(0x30, len(body)) + body


def _elements(der: bytes) -> list[bytes]:
    """The top-level elements of a DER SEQUENCE, each with its header."""
    if der[0] != 0x30:
        raise ValueError("not a SEQUENCE")
    offset, end = _content_start(der, 0)
    items = []
    while offset < end:
        start, stop = _content_start(der, offset)
        items.append(der[offset:stop])
        offset = stop
    return items


def _content_start(der: bytes, offset: int) -> tuple[int, int]:
    """(where the element at ``offset`` has its content, where it ends)."""
    first = der[offset + 1]
    if first < 0x80:
        return offset + 2, offset + 2 + first
    size = first & 0x7F
    length = int.from_bytes(der[offset + 2 : offset + 2 + size], "big")
    return offset + 2 + size, offset + 2 + size + length


# --- building and signing --------------------------------------------------------------------------


def _idp(ca: CertificateAuthority) -> x509.IssuingDistributionPoint:
    """The CRL's scope: every user certificate of an issuing CA (named by its URL, as the certificates'
    cRLDistributionPoints), every CA certificate of the root. The root's names no distribution point: the
    root certificate has none, and `openssl verify -crl_check_all` checks it too against this CRL (a
    distribution point there is "different CRL scope")."""
    root = ca.parent_id is None
    return x509.IssuingDistributionPoint(
        full_name=None if root else [x509.UniformResourceIdentifier(locations.crl_url(ca))],
        relative_name=None,
        only_contains_user_certs=not root,
        only_contains_ca_certs=root,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )


def _template(
    ca: CertificateAuthority,
    number: int,
    this_update: dt.datetime,
    next_update: dt.datetime,
    delta_of: int | None,
) -> list[bytes]:
    """The TBSCertList elements of an empty CRL with this header and these extensions (cryptography builds
    them, signed with the placeholder key; the signature is thrown away)."""
    issuer = _issuer(bytes(ca.der))
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_idp(ca), critical=True)
    )
    if delta_of is not None:
        builder = builder.add_extension(x509.DeltaCRLIndicator(delta_of), critical=True)
    elif ca.parent_id is not None:
        point = x509.DistributionPoint(
            [x509.UniformResourceIdentifier(locations.delta_crl_url(ca))], None, None, None
        )
        builder = builder.add_extension(x509.FreshestCRL([point]), critical=False)
    algorithm = keys.ALGORITHMS[ca.algorithm]
    draft = builder.sign(keys.placeholder_key(algorithm.name), algorithm.hash())  # type: ignore[arg-type]
    return _elements(draft.tbs_certlist_bytes)


def _signed(ca: CertificateAuthority, header: list[bytes], entries: bytearray) -> bytes:
    """Assemble TBSCertList (version, signature, issuer, thisUpdate, nextUpdate, revokedCertificates,
    [0] extensions), sign it on the CA's token, and wrap it into a CertificateList."""
    *fields, extensions = header
    if extensions[0] != 0xA0:
        raise ValueError("the CRL template has no extensions")
    revoked = (_header(0x30, len(entries)) + entries) if entries else b""
    body = b"".join(fields) + revoked + extensions
    tbs = _header(0x30, len(body)) + body
    signature = hsm.ca_signer(ca).sign(bytes(tbs))
    algorithm = fields[1]  # the TBS's signature AlgorithmIdentifier, repeated outside
    bit_string = _tlv(0x03, b"\x00" + signature)
    outer = len(tbs) + len(algorithm) + len(bit_string)
    return b"".join((_header(0x30, outer), tbs, algorithm, bit_string))


def _stream_entries(rows: Any) -> tuple[bytearray, int]:
    buffer = bytearray()
    count = 0
    for serial, revoked_at, reason in rows.values_list("serial", "revoked_at", "revocation_reason").iterator(
        chunk_size=CHUNK
    ):
        buffer += _entry(serial, revoked_at, reason)
        count += 1
    return buffer, count


def _db_now() -> dt.datetime:
    """The database's clock (the one transactions are stamped with)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        (now,) = cursor.fetchone()
    return now


def _oldest_open_transaction() -> dt.datetime | None:
    """When the oldest transaction now open on this database (other than ours) began."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
        )
        (oldest,) = cursor.fetchone()
    return oldest


def _base_this_update(started: dt.datetime) -> dt.datetime:
    """A base's thisUpdate: backdated, and early enough that its deltas (which start DELTA_OVERLAP before
    it) reach back to the start of every transaction still open when the base's rows are read."""
    this_update = started - BACKDATE
    oldest = _oldest_open_transaction()
    if oldest is not None:
        this_update = min(this_update, oldest + DELTA_OVERLAP - BACKDATE)
    return this_update.replace(microsecond=0)


def _revoked(ca: CertificateAuthority, now: dt.datetime) -> Any:
    return Certificate.objects.filter(authority=ca, revoked_at__isnull=False, not_after__gt=now)


def _reserve_number(ca: CertificateAuthority) -> int:
    with transaction.atomic():
        locked = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        locked.crl_number += 1
        locked.save(update_fields=["crl_number"])
        return locked.crl_number


def _publish_base(ca: CertificateAuthority, actor: str, operation: str, lifetime: dt.timedelta) -> Crl:
    # The number is taken (and the CA's row released) first: deltas go on being published while a large
    # base is read and signed. A number lost to a failure leaves a gap, which RFC 5280 allows.
    number = _reserve_number(ca)
    started = _db_now()
    this_update = _base_this_update(started)
    next_update = started + lifetime
    if ca.parent_id is None:
        entries, count = bytearray(), 0  # the issuing CAs are revoked by a ceremony: none so far
    else:
        with transaction.atomic():  # one snapshot, read through a server-side cursor in chunks
            entries, count = _stream_entries(_revoked(ca, started))
    der = _signed(ca, _template(ca, number, this_update, next_update, None), entries)
    del entries
    with transaction.atomic():
        row = Crl.objects.create(
            authority=ca,
            kind=Crl.Kind.BASE,
            number=number,
            this_update=this_update,
            next_update=next_update,
            entries=count,
            der=der,
        )
        audit.record(operation, actor=actor, authority=ca, detail={"number": number, "entries": count})
    return row


def publish_base(ca: CertificateAuthority, *, actor: str = "task pki.publish_base_crls") -> Crl:
    """Build, sign (on the CA's token) and store a base CRL of an issuing CA. Never the root's."""
    if ca.token_role == CertificateAuthority.TokenRole.ROOT or ca.parent_id is None:
        raise RootCrlRefused(f"{ca.name}: the root's CRL is signed only by `manage.py pki_root crl`")
    return _publish_base(ca, actor, AuditEvent.Operation.CRL, CRL_LIFETIME)


def publish_root_crl(root: CertificateAuthority, *, actor: str) -> Crl:
    """The root's CRL (one year), signed on the root token: only an operator's ceremony calls this
    (``pki_init``, ``pki_root crl``), in a process given the root token's PIN."""
    if root.parent_id is not None:
        raise ValueError(f"{root.name} is not the root")
    return _publish_base(root, actor, AuditEvent.Operation.ROOT_CRL, ROOT_CRL_LIFETIME)


def latest(ca: CertificateAuthority, kind: str) -> Crl | None:
    """The newest CRL of that kind (without its DER, which ``der`` reads)."""
    return ca.crls.filter(kind=kind).defer("der").order_by("-number").first()


def delta_covers(delta: Crl) -> dt.datetime:
    """Every revocation committed before this instant is in the delta (its rows were read after it)."""
    return delta.this_update + BACKDATE


def publish_delta(
    ca: CertificateAuthority,
    *,
    actor: str = "task pki.publish_delta",
    committed_before: dt.datetime | None = None,
) -> Crl | None:
    """Sign (on the CA's token) and store a delta CRL on the CA's newest base: the certificates revoked since
    shortly before that base. With ``committed_before`` (when the revocation that asks for it committed),
    nothing is done if the newest delta already covers that instant (None is returned)."""
    if ca.parent_id is None:
        raise RootCrlRefused("the root publishes no delta CRL")
    with transaction.atomic():
        locked = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        if committed_before is not None:
            newest = latest(locked, Crl.Kind.DELTA)
            if newest is not None and delta_covers(newest) >= committed_before:
                return None
        base = latest(locked, Crl.Kind.BASE)
        if base is None:
            raise NoBaseCrl(f"{ca.name} has no base CRL yet")
        read_at = _db_now()  # the entries below are read after this instant (READ COMMITTED)
        this_update = read_at - BACKDATE  # kept to the microsecond here (delta_covers); the DER has seconds
        next_update = read_at + DELTA_LIFETIME
        since = base.this_update - DELTA_OVERLAP
        entries, count = _stream_entries(_revoked(locked, read_at).filter(revoked_at__gte=since))
        locked.crl_number += 1
        template = _template(locked, locked.crl_number, this_update, next_update, base.number)
        der = _signed(locked, template, entries)
        locked.save(update_fields=["crl_number"])
        row = Crl.objects.create(
            authority=locked,
            kind=Crl.Kind.DELTA,
            number=locked.crl_number,
            base_number=base.number,
            this_update=this_update,
            next_update=next_update,
            entries=count,
            der=der,
        )
        audit.record(
            AuditEvent.Operation.DELTA_CRL,
            actor=actor,
            authority=locked,
            detail={"number": row.number, "base": base.number, "entries": count},
        )
    return row


def der(row: Crl) -> bytes:
    return bytes(Crl.objects.values_list("der", flat=True).get(pk=row.pk))


def issuing_cas() -> Iterator[CertificateAuthority]:
    """The CAs whose CRLs the signing service publishes (never the root)."""
    return iter(CertificateAuthority.objects.filter(parent__isnull=False).order_by("id"))


def db_now() -> dt.datetime:
    """The database's clock: what a revocation passes as ``committed_before`` once it has committed."""
    return _db_now()
