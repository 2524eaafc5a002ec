"""Many cards withdrawn at once, set-based (issue 16: the holders an import struck off, in its transaction).

``cards_revoke_bulk`` is ``services.card_revoke`` for a set of cards: the live ones among them move to
``revoked`` in one UPDATE (rows locked in id order), each with its ``CardEvent`` (the same detail as the card
service writes: the state left, the actor, the reason), their unprinted codes letters purged, and every
certificate of theirs revoked (``pki.services.certificates_revoke_for_cards``: the REVOKE audit rows, the
OCSP responders told at commit, a delta CRL per CA on commit). A card no longer live is left alone, so a
second call changes nothing. The cards withdrawn are left in the temporary table ``cards_revoked`` (id,
number, card_type, professional_id, from_state) for the rest of the caller's transaction.
"""

from __future__ import annotations

import json
from typing import Any

from pki import services as pki_services

from .models import Card
from .services import SECRET_KINDS

REVOKED_TABLE = "cards_revoked"

SETUP_SQL = [
    f"""CREATE TEMP TABLE IF NOT EXISTS {REVOKED_TABLE} (
    id bigint PRIMARY KEY, number text, card_type text, professional_id bigint, from_state text
) ON COMMIT DROP""",
    f"TRUNCATE {REVOKED_TABLE}",
]

REVOKE_SQL = f"""
WITH chosen AS (
    SELECT c.id, c.state FROM cards_card c
    WHERE c.id IN (SELECT id FROM ({{cards}}) k) AND c.state = ANY(%(live)s)
    ORDER BY c.id
    FOR UPDATE
),
revoked AS (
    UPDATE cards_card c SET state = 'revoked', updated_at = now()
    FROM chosen WHERE c.id = chosen.id
    RETURNING c.id, c.number, c.card_type, c.professional_id, chosen.state AS from_state
)
INSERT INTO {REVOKED_TABLE} SELECT * FROM revoked
"""

EVENTS_SQL = f"""
INSERT INTO cards_cardevent (card_id, kind, at, detail)
SELECT r.id, 'revoked', now(),
       jsonb_build_object('from', r.from_state, 'actor_id', %(actor_id)s, 'actor_role', %(actor_role)s,
                          'crl_reason', %(crl_reason)s)
       || %(detail)s::jsonb
FROM {REVOKED_TABLE} r ORDER BY r.id
"""

# A card that will never be used has no use for its codes (``services._discard_pin_mailer``).
DISCARD_SQL = f"""
WITH purged AS (
    UPDATE cards_mailer m SET content = NULL
    WHERE m.card_id IN (SELECT id FROM {REVOKED_TABLE}) AND m.kind = ANY(%(secret_kinds)s)
      AND m.printed_at IS NULL AND m.content IS NOT NULL
    RETURNING m.card_id
)
INSERT INTO cards_cardevent (card_id, kind, at, detail)
SELECT DISTINCT card_id, 'pin_mailer_discarded', now(), '{{"transition": "revoke"}}'::jsonb FROM purged
"""


def cards_revoke_bulk(
    *,
    cursor: Any,
    cards_sql: str,
    params: dict[str, Any] | None = None,
    crl_reason: str,
    actor: Any,
    actor_role: str,
    detail: dict[str, Any] | None = None,
) -> int:
    """Revoke the live cards among those ``cards_sql`` yields (a SELECT of their ``id``; its named
    parameters in ``params``) and their certificates for ``crl_reason``, in the caller's transaction.
    ``detail`` is added to each CardEvent (JSON). Returns how many cards it revoked."""
    values = {
        **(params or {}),
        "live": list(Card.LIVE_STATES),
        "actor_id": getattr(actor, "pk", None),
        "actor_role": actor_role,
        "crl_reason": crl_reason,
        "detail": json.dumps(detail or {}),
        "secret_kinds": list(SECRET_KINDS),
    }
    for statement in SETUP_SQL:
        cursor.execute(statement)
    cursor.execute(REVOKE_SQL.format(cards=cards_sql), values)
    count = int(cursor.rowcount)
    if count:
        cursor.execute(EVENTS_SQL, values)
        cursor.execute(DISCARD_SQL, values)
        who = f"{actor_role or 'system'}:{values['actor_id'] or '-'} revoke {count} card(s)"
        pki_services.certificates_revoke_for_cards(
            cursor=cursor, cards_sql=f"SELECT id FROM {REVOKED_TABLE}", reason=crl_reason, actor=who
        )
    return count
