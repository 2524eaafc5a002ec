"""The registry drives the cards (issue 16): after each import, in its transaction, set-based.

The receiver of ``registry.signals.extraction_merged`` places, through ``orders.bulk.orders_place_bulk``
and as the authority's issuance policy says (``lifecycle.policies``: off, proposed, automatic, approved at
once or not):

- **first cards**: every exercise this import created (``import_new_exercises``) of an active professional
  with no live card for it gets its first card: a CPS (trigger ``first``), or a CPF for a student or intern
  (category E, trigger ``training``), explained on the order ("created automatically: registered on
  2026-11-30 with the Ordre des médecins");
- **registry-diff updates**: every live card of an exercise the import touched
  (``import_touched_exercises``) whose data as written on it (``Card.written``, what
  ``stations.personalization.card_written`` put there) no longer match the registry's current data, built
  here in SQL in exactly that shape (``CURRENT_SQL``), gets an update order (trigger ``update``) whose
  ``situation_diff`` holds both sides, shown side by side on the order's pages.

A card personalized before the platform kept what it wrote (``written`` NULL) is not compared: nothing
says what it carries. Nothing here loops over the registry: one statement per step, whatever the size.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from cards.models import Card
from core.tasks import send_task
from orders.bulk import orders_place_bulk
from orders.eligibility import STUDENT_CATEGORY  # students and interns are issued a CPF
from registry.models import RegistryImport
from registry.routing import ANS_CODE
from registry.signals import extraction_merged
from stations.personalization import MAX_SITUATIONS  # what a card carries, at most

from .models import IssuancePolicy
from .policies import policy_join_sql

Trigger = IssuancePolicy.Trigger
RELEASE_PLAN_TASK = "lifecycle.release_plan"  # lifecycle.tasks: scheduling.release_plan

# The registry's data of exercise ``e`` in the shape a card carries (stations.personalization.card_written:
# the profession, then the active situations in id order, at most 16, each with its structure's fields).
CURRENT_SQL = f"""
jsonb_build_object(
    'profession', jsonb_build_object(
        'code', e.profession_id, 'label', prof.label,
        'category', COALESCE(e.category_id, ''), 'skill', COALESCE(e.skill_id, '')
    ),
    'situations', COALESCE((
        SELECT jsonb_agg(x.situation ORDER BY x.id) FROM (
            SELECT a.id,
                   jsonb_build_object('mode', COALESCE(a.mode_id, ''), 'sector', a.sector_code)
                   || CASE WHEN st.id IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object(
                       'structure_id', st.technical_id, 'siret', st.siret, 'finess', st.finess_site,
                       'structure_name', st.name, 'postcode', st.postcode, 'commune', st.commune
                   ) END AS situation
            FROM registry_activity a LEFT JOIN registry_structure st ON st.id = a.structure_id
            WHERE a.exercise_id = e.id AND a.is_active
            ORDER BY a.id LIMIT {MAX_SITUATIONS}
        ) x
    ), '[]'::jsonb)
)"""

# registry.routing.authority_for: an RPPS holder of an Ordre's profession goes to that Ordre, else ANS.
AUTHORITY_SQL = """CASE WHEN prof.authority_id IS NOT NULL AND p.rpps IS NOT NULL THEN prof.authority_id
    ELSE (SELECT id FROM registry_authority WHERE code = %(ans)s) END"""

FIRST_SQL = """
SELECT t.professional_id, t.exercise_id, NULL::bigint AS structure_id, t.card_type, 'first' AS kind,
       NULL::bigint AS replaces_id, t.authority_id, pol.mode AS origin, pol.approve,
       jsonb_build_object(
           'rule', t.rule, 'mode', pol.mode, 'approved', pol.mode = 'automatic' AND pol.approve,
           'authority', a.name, 'registered_on', %(today)s, 'file', %(file)s, 'run', %(run)s
       ) AS decision,
       '{{}}'::jsonb AS situation_diff, NULL::date AS release_on,
       replace(replace(CASE pol.mode WHEN 'proposed' THEN %(proposed_first)s ELSE %(automatic_first)s END,
               '{{registered_on}}', %(today)s), '{{authority}}', a.name) AS explanation
FROM (
    SELECT n.professional_id, n.exercise_id, e.profession_id,
           CASE WHEN e.category_id = %(student)s THEN 'CPF' ELSE 'CPS' END AS card_type,
           CASE WHEN e.category_id = %(student)s THEN 'training' ELSE 'first' END AS rule,
           {authority} AS authority_id
    FROM import_new_exercises n
    JOIN registry_exercise e ON e.id = n.exercise_id AND e.is_active
    JOIN registry_professional p ON p.id = n.professional_id AND p.is_active
        AND (p.rpps IS NOT NULL OR p.adeli IS NOT NULL)
    JOIN registry_profession prof ON prof.code = e.profession_id
    WHERE NOT EXISTS (
        SELECT 1 FROM cards_card c WHERE c.exercise_id = n.exercise_id AND c.state = ANY(%(live)s)
    )
) t
JOIN registry_authority a ON a.id = t.authority_id
{policy_first}
{policy_training}
CROSS JOIN LATERAL (
    SELECT CASE t.rule WHEN 'first' THEN pf.mode ELSE pt.mode END AS mode,
           CASE t.rule WHEN 'first' THEN pf.approve ELSE pt.approve END AS approve
) pol
WHERE pol.mode IN ('automatic', 'proposed')
"""

UPDATE_SQL = """
SELECT t.professional_id, t.exercise_id, NULL::bigint AS structure_id, t.card_type, 'update' AS kind,
       t.card_id AS replaces_id, t.authority_id, pol.mode AS origin, pol.approve,
       jsonb_build_object(
           'rule', 'update', 'mode', pol.mode, 'approved', pol.mode = 'automatic' AND pol.approve,
           'authority', a.name, 'file', %(file)s, 'run', %(run)s, 'registered_on', %(today)s,
           'card_number', t.number, 'expires_on', t.valid_until
       ) AS decision,
       jsonb_build_object(
           'on_card', t.written -> 'situations', 'in_registry', t.now -> 'situations',
           'profession_on_card', t.written -> 'profession', 'profession_in_registry', t.now -> 'profession'
       ) AS situation_diff,
       NULL::date AS release_on,
       replace(CASE pol.mode WHEN 'proposed' THEN %(proposed_update)s ELSE %(automatic_update)s END,
               '{{card_number}}', left(t.number, 10) || '/' || substr(t.number, 11)) AS explanation
FROM (
    SELECT c.id AS card_id, c.number, c.valid_until, c.card_type, c.professional_id, c.exercise_id,
           c.written, e.profession_id, {authority} AS authority_id, {current} AS now
    FROM import_touched_exercises x
    JOIN cards_card c ON c.exercise_id = x.exercise_id AND c.state = ANY(%(live)s) AND c.written IS NOT NULL
    JOIN registry_exercise e ON e.id = c.exercise_id AND e.is_active
    JOIN registry_professional p ON p.id = c.professional_id AND p.is_active
    JOIN registry_profession prof ON prof.code = e.profession_id
) t
JOIN registry_authority a ON a.id = t.authority_id
{policy_update}
WHERE t.written IS DISTINCT FROM t.now AND pol.mode IN ('automatic', 'proposed')
"""


def _sql() -> tuple[str, str]:
    policy = {
        "authority": "t.authority_id",
        "card_type": "t.card_type",
        "profession": "t.profession_id",
    }
    first = FIRST_SQL.format(
        authority=AUTHORITY_SQL,
        policy_first=policy_join_sql(**policy, trigger=Trigger.FIRST, alias="pf"),
        policy_training=policy_join_sql(**policy, trigger=Trigger.TRAINING, alias="pt"),
    )
    update = UPDATE_SQL.format(
        authority=AUTHORITY_SQL,
        current=CURRENT_SQL,
        policy_update=policy_join_sql(**policy, trigger=Trigger.UPDATE, alias="pol"),
    )
    return first, update


def _texts() -> dict[str, str]:
    """The sentences of the holders' messages, in the platform's language; ``{…}`` filled in by the SQL."""
    with override(settings.CPX_NOTIFY_DEFAULT_LANGUAGE):
        values = {
            "registered_on": "{registered_on}",
            "authority": "{authority}",
            "card_number": "{card_number}",
        }
        return {
            "automatic_first": _("Created automatically: registered on %(registered_on)s with %(authority)s.")
            % values,
            "proposed_first": _(
                "Proposed to you: registered on %(registered_on)s with %(authority)s. "
                "Confirm it in one click."
            )
            % values,
            "automatic_update": _(
                "Created automatically: your situation in the registry no longer matches what your card "
                "%(card_number)s carries."
            )
            % values,
            "proposed_update": _(
                "Proposed to you: your situation in the registry no longer matches what your card "
                "%(card_number)s carries. Confirm the new card in one click."
            )
            % values,
        }


def _params(run_id: int, file_name: str, today: dt.date) -> dict[str, Any]:
    return {
        "ans": ANS_CODE,
        "today": today.isoformat(),
        "file": file_name,
        "run": run_id,
        "student": STUDENT_CATEGORY,
        "live": list(Card.LIVE_STATES),
        **_texts(),
    }


def first_cards_place(*, cursor: Any, run_id: int, file_name: str, today: dt.date | None = None) -> int:
    """The first cards (CPS, or CPF for students) of the exercises this import created; returns how many
    orders were placed."""
    first, _update = _sql()
    params = _params(run_id, file_name, today or timezone.localdate())
    return orders_place_bulk(cursor=cursor, source_sql=first, params=params)


def updates_place(*, cursor: Any, run_id: int, file_name: str, today: dt.date | None = None) -> int:
    """The update orders of the live cards whose written data no longer match the registry; returns how
    many were placed."""
    _first, update = _sql()
    params = _params(run_id, file_name, today or timezone.localdate())
    return orders_place_bulk(cursor=cursor, source_sql=update, params=params)


@receiver(extraction_merged, dispatch_uid="lifecycle.registry_driven")
def registry_drives_cards(
    sender: Any, cursor: Any, run_id: int, full: bool, file_name: str, **kwargs: Any
) -> None:
    # The first extraction the platform ever merges is the country's registry as it stands, its cards
    # issued before the platform: its exercises are not new registrations, and nobody is ordered a card.
    placed = 0
    if registry_loaded_before(run_id):
        placed += first_cards_place(cursor=cursor, run_id=run_id, file_name=file_name)
    placed += updates_place(cursor=cursor, run_id=run_id, file_name=file_name)
    if placed:
        # The orders approved at once get their day of production (lifecycle.scheduling) once this commits.
        transaction.on_commit(_plan_releases, robust=True)


def _plan_releases() -> None:
    send_task(RELEASE_PLAN_TASK)


def registry_loaded_before(run_id: int) -> bool:
    """Whether an extraction was merged before this run (the registry's first load places no first card)."""
    earlier = RegistryImport.objects.filter(kind="extraction", status=RegistryImport.Status.DONE)
    return earlier.exclude(pk=run_id).exists()
