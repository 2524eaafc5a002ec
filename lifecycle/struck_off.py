"""Struck off at the import's commit (issue 16): the live cards of everyone an import marks inactive are
revoked in the import's own transaction, so their certificates answer *revoked* in OCSP, and a delta CRL
lists them, the moment the import commits, not after a nightly batch.

The receiver of ``registry.signals.extraction_merged`` reads ``import_struck_off`` (the professionals this
import deactivated) and does it set-based: the cards (``cards.bulk.cards_revoke_bulk``: states, history,
codes letters purged, certificates revoked with their audit rows, OCSP told and delta CRLs on commit), the
holders told why (``notifications.bulk.notify_bulk``: the ``card_revoked`` notice, the same key as the
per-card path so nobody is told twice), and the relying parties (``notifications.webhooks``).

The per-card periodic run (``withdrawal.cards_revoke_for_inactive_holders``, also sent on commit by the
registry) stays as the safety net: after this it finds nothing left to do.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.dispatch import receiver
from django.utils.translation import gettext as _
from django.utils.translation import override

from cards.bulk import REVOKED_TABLE, cards_revoke_bulk
from cards.models import Card
from core.roles import role_of
from notifications.bulk import notify_bulk
from notifications.events import Event
from notifications.models import WebhookEvent
from notifications.webhooks import webhooks_emit_bulk
from orders.services import system_user
from pki.models import Certificate
from registry.signals import extraction_merged

STRUCK_OFF_CARDS_SQL = """
SELECT c.id FROM cards_card c
JOIN import_struck_off s ON s.professional_id = c.professional_id
WHERE c.state = ANY(%(live)s)
"""

# The notice, as ``withdrawal.card_withdraw`` writes it one card at a time (same context, same key).
TELL_SQL = f"""
SELECT r.professional_id AS recipient_id,
       jsonb_build_object(
           'card_number', left(r.number, 10) || '/' || substr(r.number, 11), 'card_type', r.card_type,
           'reason', COALESCE(NULLIF(p.deactivation_reason, ''), %(default_reason)s)
       ) AS context,
       'card_revoked:' || r.id AS dedup_key
FROM {REVOKED_TABLE} r JOIN registry_professional p ON p.id = r.professional_id
"""


# The relying parties' messages (notifications.webhooks), as cards.services writes them one card at a time.
CARD_REVOKED_HOOKS_SQL = f"""
SELECT r.number AS card_key,
       jsonb_build_object(
           'card_number', r.number, 'card_type', r.card_type, 'state', 'revoked',
           'valid_from', c.valid_from, 'valid_until', c.valid_until,
           'holder', jsonb_build_object('national_id', p.national_id),
           'reason', %s, 'at', now()
       ) AS payload
FROM {REVOKED_TABLE} r
JOIN cards_card c ON c.id = r.id
JOIN registry_professional p ON p.id = r.professional_id
ORDER BY r.id
"""

HOLDER_STRUCK_OFF_HOOKS_SQL = """
SELECT p.national_id AS card_key,
       jsonb_build_object(
           'holder', jsonb_build_object('national_id', p.national_id, 'rpps', p.rpps, 'adeli', p.adeli),
           'reason', p.deactivation_reason, 'struck_off_at', p.deactivated_at, 'file', %s
       ) AS payload
FROM import_struck_off s JOIN registry_professional p ON p.id = s.professional_id
ORDER BY p.id
"""


@receiver(extraction_merged, dispatch_uid="lifecycle.struck_off")
def struck_off_at_commit(
    sender: Any, cursor: Any, run_id: int, full: bool, file_name: str, **kwargs: Any
) -> None:
    cursor.execute("SELECT EXISTS (SELECT 1 FROM import_struck_off)")
    if not cursor.fetchone()[0]:
        return
    webhooks_emit_bulk(
        cursor=cursor,
        event=WebhookEvent.HOLDER_STRUCK_OFF,
        source_sql=HOLDER_STRUCK_OFF_HOOKS_SQL,
        params=[file_name],
    )
    cards_struck_off(cursor=cursor, run_id=run_id, file_name=file_name)


def cards_struck_off(*, cursor: Any, run_id: int, file_name: str) -> int:
    """Revoke the live cards of the professionals in ``import_struck_off``; returns how many."""
    platform = system_user()
    revoked = cards_revoke_bulk(
        cursor=cursor,
        cards_sql=STRUCK_OFF_CARDS_SQL,
        params={"live": list(Card.LIVE_STATES)},
        crl_reason=Certificate.Reason.CESSATION,
        actor=platform,
        actor_role=role_of(platform) or "system",
        detail={"why": "struck off by the registry", "run": run_id, "file": file_name},
    )
    if revoked:
        webhooks_emit_bulk(
            cursor=cursor,
            event=WebhookEvent.CARD_REVOKED,
            source_sql=CARD_REVOKED_HOOKS_SQL,
            params=[Certificate.Reason.CESSATION.value],
        )
        with override(settings.CPX_NOTIFY_DEFAULT_LANGUAGE):
            default_reason = _("no longer registered to practise")
        notify_bulk(
            cursor=cursor,
            event=Event.CARD_REVOKED,
            source_sql=TELL_SQL,
            params={"default_reason": default_reason},
        )
    return revoked
