"""Renewal by policy, for everyone (issue 16): the daily step that places the renewals before the reminders.

Every active card expiring within ``CPX_RENEWAL_ORDER_DAYS`` (longer than the first reminder's window, so
the order exists when the reminder comes) whose authority's issuance policy renews it
(``lifecycle.IssuancePolicy``, trigger ``renewal``, read by ``policies.policy_join_sql``: the profession's
row, else the authority's) gets its renewal: automatic (approved at once, then released by the capacity
plan, or left to the authority's queue) or proposed (a draft the holder confirms from the reminder's link).
One statement through ``orders.bulk.orders_place_bulk`` whatever the number of cards, never a loop.
The decision is kept on the order (rule, mode, approval, authority, the card's number and expiry).

``lifecycle.renewal`` runs it before each reminder scan; the beat runs it earlier in the morning too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from orders import services as order_services
from orders.bulk import orders_place_bulk
from orders.models import Order
from registry.models import Authority
from registry.routing import ANS_CODE

from . import scheduling
from .models import IssuancePolicy
from .policies import policy_join_sql

# registry.routing.authority_for: an RPPS holder of an Ordre's profession goes to that Ordre, else ANS.
AUTHORITY_SQL = (
    "CASE WHEN prof.authority_id IS NOT NULL AND p.rpps IS NOT NULL THEN prof.authority_id ELSE %(ans)s END"
)

# One row per renewal to place (orders.bulk's columns). A card is renewed by the platform once: not if
# any order the platform placed replaces it (a cancelled or rejected one included: declined, or refused),
# nor if an order under way does, nor if its holder declined the renewal from a reminder.
RENEWALS_SQL = """
SELECT t.professional_id, t.exercise_id, t.structure_id, t.card_type, 'renewal' AS kind,
       t.card_id AS replaces_id, t.authority_id, pol.mode AS origin, pol.approve,
       jsonb_build_object(
           'rule', 'renewal', 'mode', pol.mode, 'approved', pol.mode = 'automatic' AND pol.approve,
           'authority', a.name, 'card_number', t.number, 'expires_on', t.valid_until
       ) AS decision,
       '{{}}'::jsonb AS situation_diff, NULL::date AS release_on,
       replace(replace(CASE pol.mode WHEN 'proposed' THEN %(proposed_renewal)s ELSE %(automatic_renewal)s END,
               '{{card_number}}', left(t.number, 10) || '/' || substr(t.number, 11)),
               '{{expires_on}}', to_char(t.valid_until, 'DD/MM/YYYY')) AS explanation
FROM (
    SELECT c.id AS card_id, c.number, c.valid_until, c.card_type, c.professional_id, c.exercise_id,
           CASE WHEN c.card_type = ANY(%(structure_cards)s) THEN c.structure_id END AS structure_id,
           e.profession_id, {authority} AS authority_id
    FROM cards_card c
    JOIN registry_professional p ON p.id = c.professional_id AND p.is_active
    LEFT JOIN registry_exercise e ON e.id = c.exercise_id
    LEFT JOIN registry_profession prof ON prof.code = e.profession_id
    WHERE c.state = 'active'
      AND c.valid_until > %(today)s
      AND c.valid_until <= %(until)s
      AND (c.exercise_id IS NULL OR e.is_active)
      AND (c.card_type <> ALL(%(structure_cards)s) OR EXISTS (
          SELECT 1 FROM registry_structuremember m
           WHERE m.structure_id = c.structure_id AND m.professional_id = c.professional_id AND m.is_active
             AND m.role = CASE c.card_type WHEN 'CPE' THEN 'staff' WHEN 'CPA' THEN 'authorised'
                                           ELSE 'legal_representative' END))
      AND NOT EXISTS (SELECT 1 FROM orders_order o
                       WHERE o.replaces_id = c.id
                         AND (o.origin <> 'requested' OR o.state = ANY(%(under_way)s)))
      AND NOT EXISTS (SELECT 1 FROM lifecycle_renewalreminder d
                       WHERE d.card_id = c.id AND d.declined_at IS NOT NULL)
) t
JOIN registry_authority a ON a.id = t.authority_id
{policy}
WHERE pol.mode IN ('automatic', 'proposed')
"""


def _renewals_sql() -> str:
    policy = policy_join_sql(
        authority="t.authority_id",
        card_type="t.card_type",
        trigger=IssuancePolicy.Trigger.RENEWAL,
        profession="t.profession_id",
    )
    return RENEWALS_SQL.format(authority=AUTHORITY_SQL, policy=policy)


def _renewal_texts() -> dict[str, str]:
    """The sentences of the holders' messages, in the platform's language; ``{…}`` filled in by the SQL."""
    values = {"card_number": "{card_number}", "expires_on": "{expires_on}"}
    with override(settings.CPX_NOTIFY_DEFAULT_LANGUAGE):
        return {
            "automatic_renewal": _(
                "Created automatically: your card %(card_number)s expires on %(expires_on)s, and your "
                "authority renews it without waiting for you. If you are leaving practice, you can decline "
                "it from your order's page."
            )
            % values,
            "proposed_renewal": _(
                "Proposed to you: your card %(card_number)s expires on %(expires_on)s. Confirm its renewal "
                "in one click."
            )
            % values,
        }


def renewal_orders_place(*, today: dt.date | None = None) -> int:
    """Place, in one statement, the renewal of every active card expiring within
    ``CPX_RENEWAL_ORDER_DAYS`` that its authority's policy renews (see the module's docstring); then plan
    the release of the approved ones (``scheduling.release_plan``). Idempotent. Returns how many were
    placed."""
    today = today or timezone.localdate()
    params: dict[str, Any] = {
        "ans": Authority.objects.only("pk").get(code=ANS_CODE).pk,
        "today": today,
        "until": today + dt.timedelta(days=settings.CPX_RENEWAL_ORDER_DAYS),
        "structure_cards": list(order_services.STRUCTURE_CARDS),
        "under_way": list(Order.OPEN_STATES),
        **_renewal_texts(),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        placed = orders_place_bulk(cursor=cursor, source_sql=_renewals_sql(), params=params)
    if placed:
        scheduling.release_plan(today=today)
    return placed
