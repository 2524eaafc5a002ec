"""Issuance policies (issue 16): per authority and card type, what the platform does when the registry
reports a first registration, a student or intern, a card coming to its end, or a change of situation.

The defaults follow today's national practice: the CPS is issued automatically once the professional is
registered with their Ordre ("la CPS est délivrée automatiquement à partir de l'inscription au tableau"),
interns get their CPF automatically, renewal is automatic, and a change of situation leads to a new card.
For the ADELI professions ANS registers, the first card is proposed to the holder; structure cards are
proposed to their structure's manager. The defaults are written as rows for every authority (migration
``lifecycle.0005`` and, for an authority created later, ``policies_ensure``), so set-based SQL joins them.
"""

from __future__ import annotations

from typing import NamedTuple

from registry.models import Authority, CardType

from .models import IssuancePolicy

Trigger, Mode = IssuancePolicy.Trigger, IssuancePolicy.Mode


class Default(NamedTuple):
    mode: str
    approve: bool


STRUCTURE_CARDS = (CardType.CPE, CardType.CPA, CardType.CDE)

# (authority kind, card type, trigger) -> default. A combination absent here is not a thing the registry
# can trigger (a first CPE card is declared by its structure's manager, not read from the extraction).
DEFAULTS: dict[tuple[str, str, str], Default] = {
    **{
        (kind, CardType.CPS, Trigger.FIRST): Default(
            Mode.AUTOMATIC if kind == Authority.Kind.ORDRE else Mode.PROPOSED, kind == Authority.Kind.ORDRE
        )
        for kind in Authority.Kind.values
    },
    **{
        (kind, CardType.CPF, Trigger.TRAINING): Default(Mode.AUTOMATIC, True)
        for kind in Authority.Kind.values
    },
    **{
        (kind, card_type, trigger): Default(Mode.AUTOMATIC, True)
        for kind in Authority.Kind.values
        for card_type in (CardType.CPS, CardType.CPF)
        for trigger in (Trigger.RENEWAL, Trigger.UPDATE)
    },
    **{
        (kind, card_type, trigger): Default(Mode.PROPOSED, False)
        for kind in Authority.Kind.values
        for card_type in STRUCTURE_CARDS
        for trigger in (Trigger.RENEWAL, Trigger.UPDATE)
    },
}


def default_for(*, authority_kind: str, card_type: str, trigger: str) -> Default:
    return DEFAULTS.get((authority_kind, card_type, trigger), Default(Mode.OFF, False))


def policies_ensure(authority: Authority) -> int:
    """Write the default rows an authority lacks (never changes an existing choice); returns how many."""
    rows = [
        IssuancePolicy(
            authority=authority,
            card_type=card_type,
            trigger=trigger,
            mode=default.mode,
            approve=default.approve,
        )
        for (kind, card_type, trigger), default in DEFAULTS.items()
        if kind == authority.kind
    ]
    created = IssuancePolicy.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


def policy_join_sql(
    *, authority: str, card_type: str, trigger: str, profession: str, alias: str = "pol"
) -> str:
    """A ``LEFT JOIN LATERAL`` giving ``{alias}.mode`` and ``{alias}.approve``, the policy in force for
    each row of a set-based statement: the profession's own row if there is one, else the authority's row
    for the card type. ``authority``, ``card_type``, ``profession`` are SQL expressions of the outer query,
    ``trigger`` a Trigger value. No row (an authority without its defaults) reads as NULL: treat it as off."""
    assert trigger in Trigger.values
    return f"""
LEFT JOIN LATERAL (
    SELECT p.mode, p.approve FROM lifecycle_issuancepolicy p
    WHERE p.authority_id = {authority} AND p.card_type = {card_type} AND p.trigger = '{trigger}'
      AND (p.profession_id IS NULL OR p.profession_id = {profession})
    ORDER BY p.profession_id IS NULL
    LIMIT 1
) {alias} ON true"""
