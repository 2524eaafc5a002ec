"""Use cases of the PKI: certify a card key, revoke certificates (a delta CRL follows within the second).

The signing itself (CA keys, certificates, CRLs, OCSP answers) is in ``pki.signing``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.tasks import run_signing_task

from . import audit, crl, keys, ocsp, signing
from .models import AuditEvent, Certificate, CertificateAuthority


def certificate_issue(
    *,
    usage: str,
    public_key: keys.PublicKey,
    holder: signing.Holder,
    valid_until: dt.date,
    card_number: str,
    card_type: str = "CPS",
    ca: CertificateAuthority | None = None,
    actor: str = "",
    request_id: Any = None,
) -> Certificate:
    """Have the card type's issuing CA certify a card key (on its token), and record the certificate (tied
    to the card number, so a blank that fails later can have its certificates found and revoked) with its
    audit row. Runs in the signing service (the only process with the CA token)."""
    ca = ca or signing.issuing_ca(card_type)
    cert = signing.issue_card_certificate(
        ca, usage=usage, public_key=public_key, holder=holder, valid_until=valid_until, card_type=card_type
    )
    serial = format(cert.serial_number, "x")
    audit.record(
        AuditEvent.Operation.ISSUE,
        actor=actor or "pki.services.certificate_issue",
        authority=ca,
        serials=[serial],
        request_id=request_id,
        detail={"card_number": card_number, "usage": usage, "card_type": card_type},
    )
    return Certificate.objects.create(
        authority=ca,
        serial=serial,
        card_number=card_number,
        usage=usage,
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        der=cert.public_bytes(serialization.Encoding.DER),
    )


def certificate_revoke(
    *,
    certificate: Certificate | None = None,
    card: Any = None,
    card_number: str = "",
    reason: str = Certificate.Reason.UNSPECIFIED,
    actor: str = "",
) -> int:
    """Revoke a certificate, or every certificate of a card. The transaction holds only the UPDATE and the
    REVOKE audit rows; once it commits, the signing service is asked for a delta CRL of each CA concerned
    (``pki.publish_delta``: nothing is signed here, nor while the opposition's transaction is open). The
    OCSP responder reads the same rows.

    Idempotent: an already revoked certificate keeps its first revocation date and reason.
    Returns how many certificates this call revoked.
    """
    if reason not in Certificate.Reason.values:
        raise ValueError(f"unknown revocation reason {reason!r}")
    rows = Certificate.objects.filter(revoked_at__isnull=True)
    if certificate is not None:
        rows = rows.filter(pk=certificate.pk)
    elif card is not None:  # a cards.Card: its certificates by link, or by number if issued before it
        rows = rows.filter(Q(card_id=card.pk) | Q(card_number=card.number))
    elif card_number:
        rows = rows.filter(card_number=card_number)
    else:
        raise ValueError("give a certificate, a card or a card number")
    with transaction.atomic():
        revoked = list(rows.select_for_update().values_list("pk", "serial", "authority_id"))
        count = Certificate.objects.filter(pk__in=[pk for pk, _s, _a in revoked]).update(
            revoked_at=timezone.now(), revocation_reason=reason
        )
        _revoked_effects(revoked, reason, actor or "pki.services.certificate_revoke")
    return count


# Every certificate of the cards a statement names, in one UPDATE (its lock order: the rows' ids).
BULK_REVOKE_SQL = """
WITH chosen AS (
    SELECT c.id FROM pki_certificate c
    WHERE c.revoked_at IS NULL
      AND (c.card_id IN (SELECT id FROM ({cards}) k)
           OR c.card_number IN (SELECT number FROM cards_card WHERE id IN (SELECT id FROM ({cards}) k)))
    ORDER BY c.id
    FOR UPDATE
)
UPDATE pki_certificate c SET revoked_at = now(), revocation_reason = %(reason)s
FROM chosen WHERE c.id = chosen.id
RETURNING c.id, c.serial, c.authority_id
"""


def certificates_revoke_for_cards(
    *, cursor: Any, cards_sql: str, params: dict[str, Any] | None = None, reason: str, actor: str
) -> int:
    """``certificate_revoke`` for every certificate of many cards at once, in the caller's transaction:
    ``cards_sql`` is a SELECT yielding the cards' ``id`` (named parameters in ``params``; ``reason`` is
    taken). The same effects: the REVOKE audit row per CA, the OCSP responders told at commit, a delta CRL
    per CA asked for on commit. Returns how many certificates it revoked."""
    if reason not in Certificate.Reason.values:
        raise ValueError(f"unknown revocation reason {reason!r}")
    cursor.execute(BULK_REVOKE_SQL.format(cards=cards_sql), {**(params or {}), "reason": reason})
    revoked = [tuple(row) for row in cursor.fetchall()]
    _revoked_effects(revoked, reason, actor)
    return len(revoked)


def _revoked_effects(revoked: list[Any], reason: str, actor: str) -> None:
    """What follows the UPDATE of revoked certificates (``(pk, serial, authority_id)`` each), in its
    transaction: the OCSP responders drop what they keep in memory about these at commit, one REVOKE audit
    row per CA, and a delta CRL of each CA asked for once the transaction commits."""
    ocsp.notify_revoked(pk for pk, _s, _a in revoked)
    for ca in CertificateAuthority.objects.filter(pk__in={a for _p, _s, a in revoked}):
        audit.record(
            AuditEvent.Operation.REVOKE,
            actor=actor,
            authority=ca,
            serials=[serial for _p, serial, a in revoked if a == ca.pk],
            detail={"reason": reason},
        )
    for ca_id in sorted({a for _p, _s, a in revoked}):
        transaction.on_commit(_delta_asker(ca_id), robust=True)


def _delta_asker(ca_id: int) -> Callable[[], None]:
    def ask_for_delta() -> None:  # a named function: on_commit(robust=True) logs its __qualname__
        _ask_for_delta(ca_id)

    return ask_for_delta


def _ask_for_delta(ca_id: int) -> None:
    """After the revocation's commit: a delta CRL from the signing service (inline in tests). The database's
    clock, read now, lets a delta already published since then stand for this one."""
    run_signing_task("pki.publish_delta", ca_id, crl.db_now().isoformat())
