"""The signing service's CRL work (queue settings.CPX_SIGNING_QUEUE: the only process with the CA token's
PIN). Scheduled in config/celery.py; ``pki.publish_delta`` is also asked for by each revocation, on commit.
Never the root's CRL: that is the operator's ``manage.py pki_root crl``."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from . import audit_log, crl
from .models import CertificateAuthority


@shared_task(name="pki.publish_delta", acks_late=True)
def publish_delta(ca_id: int, committed_before: str | None = None) -> int | None:
    """A delta CRL for the CA, unless a delta published since the revocation committed already has it
    (a burst of oppositions is answered by the first few deltas). Returns the new CRL's number, or None."""
    ca = CertificateAuthority.objects.get(pk=ca_id)
    since = dt.datetime.fromisoformat(committed_before) if committed_before else None
    try:
        row = crl.publish_delta(ca, actor="task pki.publish_delta", committed_before=since)
    except crl.NoBaseCrl:
        crl.publish_base(ca, actor="task pki.publish_delta (no base yet)")
        row = crl.publish_delta(ca, actor="task pki.publish_delta")
    return row.number if row else None


@shared_task(name="pki.publish_base_crls", acks_late=True)
def publish_base_crls() -> dict[str, int]:
    """Daily: a base CRL for each issuing CA (expired certificates leave it), then a delta on that base."""
    published = {}
    for ca in crl.issuing_cas():
        base = crl.publish_base(ca, actor="task pki.publish_base_crls")
        crl.publish_delta(ca, actor="task pki.publish_base_crls")
        published[ca.slug] = base.number
    return published


@shared_task(name="pki.refresh_deltas", acks_late=True)
def refresh_deltas() -> dict[str, int]:
    """Every 30 minutes: a fresh delta for each issuing CA, so that one never expires (nextUpdate 1 hour)."""
    published = {}
    for ca in crl.issuing_cas():
        try:
            row = crl.publish_delta(ca, actor="task pki.refresh_deltas")
        except crl.NoBaseCrl:
            continue  # the daily base task (or the first revocation) publishes it
        if row is not None:
            published[ca.slug] = row.number
    return published


@shared_task(name="pki.audit_checkpoint", acks_late=True)
def audit_checkpoint() -> dict[str, object]:
    """Daily: the audit log's checkpoint of the day, signed by the audit key (idempotent: a day has one)."""
    checkpoint, made = audit_log.make_checkpoint(actor="task pki.audit_checkpoint")
    return {"day": checkpoint.day.isoformat(), "seq": checkpoint.seq, "made": made}
