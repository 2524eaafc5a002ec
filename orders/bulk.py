"""Orders placed by the platform for many holders at once (issue 16): first cards on registration, CPF for
students, updates after a change of situation, renewals. Set-based: one INSERT for the orders, one for
their history, one for the holders' messages, whatever the number; never a loop over the registry.

The caller (lifecycle, which reads the registry and the issuance policies) gives a SELECT yielding one row
per order to place, with the named columns

    professional_id, exercise_id, structure_id, card_type, kind, replaces_id, authority_id,
    origin ('automatic' | 'proposed'), approve (bool), decision (jsonb), situation_diff (jsonb),
    release_on (date or NULL), explanation (text: the sentence the holder's message carries)

and the orders are created in the state the policy says:

- ``proposed``: a draft the holder (or the structure's manager) confirms in one click (it is then submitted
  as any order) or declines (cancelled);
- ``automatic`` without approval: submitted, in the authority's queue;
- ``automatic`` with approval: approved, released to production by the capacity plan
  (``lifecycle.scheduling``: ``release_on``, NULL until planned).

Only kinds the holder does not pay for come this way (first, renewal, update): no fee. A row whose slot
is taken is skipped: an order under way holds it (the partial unique indexes of ``Order``, through
``ON CONFLICT DO NOTHING``, so a concurrent submission cannot make two), and an open proposal for the same
slot is not made twice. The orders a call created are left in the temporary table ``orders_placed`` (id,
professional_id, state, origin, card_type, kind) until the next call or the end of the transaction. Every
join is on plain equalities (hash joins): the cost grows with the orders placed, never with their square.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from core.roles import role_of
from notifications.bulk import notify_bulk
from notifications.events import Event

from .models import SLOT_HOLDING_STATES, Order
from .services import system_user

PLACED_TABLE = "orders_placed"
PLACEHOLDER = "4242424242424242"

PLACED_CREATE_SQL = [
    f"""CREATE TEMP TABLE IF NOT EXISTS {PLACED_TABLE} (
    id bigint PRIMARY KEY, professional_id bigint, state text, origin text, card_type text, kind text
) ON COMMIT DROP""",
    f"TRUNCATE {PLACED_TABLE}",
    "DROP TABLE IF EXISTS orders_to_place",
]

# The rows to place, one per slot (``eligibility.slot_filter``: an exercise, or for a structure card the
# holder, the structure and the card type), kept so the messages read them after the insert.
TO_PLACE_SQL = """
CREATE TEMP TABLE orders_to_place ON COMMIT DROP AS
SELECT DISTINCT ON (COALESCE(s.exercise_id, 0), s.professional_id, s.structure_id, s.card_type) s.*
FROM ({source}) s
ORDER BY COALESCE(s.exercise_id, 0), s.professional_id, s.structure_id, s.card_type, s.release_on
"""

SAME_SLOT = """(o.exercise_id = s.exercise_id
       OR (s.exercise_id IS NULL AND o.exercise_id IS NULL AND o.professional_id = s.professional_id
           AND o.structure_id IS NOT DISTINCT FROM s.structure_id AND o.card_type = s.card_type))"""

PLACE_SQL = f"""
WITH placed AS (
    INSERT INTO orders_order (
        card_type, kind, replacement_reason, state, fee, failure_count, created_at, updated_at,
        state_changed_at, authority_id, created_by_id, exercise_id, produced_card_id, professional_id,
        replaces_id, structure_id, decision, origin, release_on, situation_diff
    )
    SELECT s.card_type, s.kind, '',
           CASE WHEN s.origin = 'proposed' THEN 'draft' WHEN s.approve THEN 'approved' ELSE 'submitted' END,
           NULL, 0, now(), now(), now(), s.authority_id, %(actor)s, s.exercise_id, NULL, s.professional_id,
           s.replaces_id, s.structure_id, s.decision, s.origin,
           CASE WHEN s.origin = 'automatic' AND s.approve THEN s.release_on END, s.situation_diff
    FROM orders_to_place s
    WHERE NOT EXISTS (
        SELECT 1 FROM orders_order o
        WHERE {SAME_SLOT}
          AND (o.state = ANY(%(holding)s) OR (o.state = 'draft' AND o.origin = 'proposed'))
    )
    ORDER BY s.professional_id, s.exercise_id
    ON CONFLICT DO NOTHING
    RETURNING id, professional_id, state, origin, card_type, kind
)
INSERT INTO {PLACED_TABLE} SELECT * FROM placed
RETURNING id
"""

# Their history, as orders.services writes it one transition at a time: create, then submit, then approve.
EVENTS_SQL = f"""
INSERT INTO orders_orderevent (at, actor_role, transition, from_state, to_state, reason, actor_id, order_id)
SELECT now(), %(role)s, step.transition, step.from_state, step.to_state, step.reason, %(actor)s, p.id
FROM {PLACED_TABLE} p
CROSS JOIN LATERAL (VALUES
    (1, 'create', '', 'draft', ''),
    (2, 'submit', 'draft', 'submitted', ''),
    (3, 'approve', 'submitted', 'approved', %(approved_reason)s)
) AS step(n, transition, from_state, to_state, reason)
WHERE step.n <= CASE p.state WHEN 'draft' THEN 1 WHEN 'submitted' THEN 2 ELSE 3 END
ORDER BY p.id, step.n
"""

MESSAGES_SQL = f"""
SELECT o.professional_id AS recipient_id,
       jsonb_build_object(
           'order_reference', o.id::text, 'card_type', o.card_type, 'explanation', s.explanation,
           'order_url', replace(%(url)s, %(placeholder)s, o.id::text)
       ) AS context,
       'order:' || o.id || ':' || %(event)s AS dedup_key
FROM {PLACED_TABLE} p
JOIN orders_order o ON o.id = p.id
JOIN orders_to_place s ON s.professional_id = o.professional_id
    AND COALESCE(s.exercise_id, 0) = COALESCE(o.exercise_id, 0)
    AND COALESCE(s.structure_id, 0) = COALESCE(o.structure_id, 0) AND s.card_type = o.card_type
WHERE o.origin = %(origin)s
"""

# Who is told what: a proposal asks for one click, an automatic order tells that it was placed.
MESSAGES = (
    (Order.Origin.PROPOSED, Event.CARD_PROPOSED),
    (Order.Origin.AUTOMATIC, Event.ORDER_PLACED_FOR_YOU),
)


def orders_place_bulk(
    *, cursor: Any, source_sql: str, params: dict[str, Any] | None = None, actor_id: int | None = None
) -> int:
    """Place the orders ``source_sql`` describes (see the module's docstring), in the caller's transaction;
    returns how many were created. ``params`` are ``source_sql``'s named parameters (``%(name)s``); the
    names ``actor``, ``role``, ``holding``, ``ids``, ``url``, ``placeholder``, ``event``, ``origin`` and
    ``approved_reason`` are taken. ``actor_id`` defaults to the platform's own user."""
    actor = system_user() if actor_id is None else None
    values: dict[str, Any] = dict(params or {})
    values.update(
        actor=actor.pk if actor is not None else actor_id,
        role=(role_of(actor) or "") if actor is not None else "system",
        holding=list(SLOT_HOLDING_STATES),
    )
    for statement in PLACED_CREATE_SQL:
        cursor.execute(statement)
    cursor.execute(TO_PLACE_SQL.format(source=source_sql), values)
    cursor.execute(PLACE_SQL, values)
    ids = [row[0] for row in cursor.fetchall()]
    if ids:
        values.update(ids=ids, approved_reason=APPROVED_REASON)
        cursor.execute(EVENTS_SQL, values)
        values.update(url=_order_url_template(), placeholder=PLACEHOLDER)
        for origin, event in MESSAGES:
            values.update(origin=origin, event=event)
            notify_bulk(cursor=cursor, event=event, source_sql=MESSAGES_SQL, params=values)
    cursor.execute("DROP TABLE orders_to_place")
    return len(ids)


# The reason recorded on the approval the policy gave (the history is the platform's, in its language).
APPROVED_REASON = "approved at once by the authority's issuance policy"


def _order_url_template() -> str:
    """The holder's order page, absolute, with ``PLACEHOLDER`` where the order's number goes."""
    base = settings.CPX_BASE_URL.rstrip("/")
    try:
        return f"{base}{reverse('portal:order', args=[int(PLACEHOLDER)])}"
    except NoReverseMatch:
        return f"{base}/"
