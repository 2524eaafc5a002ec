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

import re
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.signals import post_save
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from audit import log as audit_log
from core.errors import InvalidInput, NotFound, NotPermitted
from core.roles import SEES_ALL, Role, account_of
from registry.models import Authority, CardType, Profession
from registry.routing import ANS_CODE

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


# --- reading and changing the policies (the authority's operators; the auditor reads them all) ----------


class PolicyNotFound(NotFound):
    default_message = _lazy("No such issuance policy: this card type is not issued on this event.")


class PolicyProfessionNotFound(NotFound):
    default_message = _lazy("No such profession among those your authority registers.")


def policies_for(actor: Any) -> QuerySet[IssuancePolicy]:
    """The rows an actor may read: an Ordre's or ANS's operator their authority's, those who see everything
    (the auditor, the platform) all of them; for anyone else issuance policies are none of their business."""
    account = account_of(actor)
    rows = IssuancePolicy.objects.select_related("authority", "profession", "updated_by")
    rows = rows.order_by("authority__code", "trigger", "card_type", F("profession_id").asc(nulls_first=True))
    if account is not None and account.role in SEES_ALL:
        return rows
    return rows.filter(authority=policy_authority(actor))


def policy_authority(actor: Any) -> Authority:
    """The authority whose policies the actor may change: an Ordre's operator's Ordre, ANS for an ANS
    operator. Checked before anything they send is read (403 for anyone else)."""
    account = account_of(actor)
    role = account.role if account is not None else None
    if role == Role.AUTHORITY_OPERATOR and account.authority_id is not None:
        return account.authority  # type: ignore[no-any-return]
    if role == Role.ANS_OPERATOR:
        return Authority.objects.get(code=ANS_CODE)
    raise NotPermitted(_("Issuance policies are chosen by an Ordre's or ANS's operators."))


def policy_professions(authority: Authority) -> QuerySet[Profession]:
    """The professions a policy of ``authority`` may be narrowed to: those the Ordre registers; for ANS,
    the ADELI professions (registered by no Ordre)."""
    professions = Profession.objects.filter(deprecated=False).order_by("code")
    if authority.kind == Authority.Kind.ANS:
        return professions.filter(authority__isnull=True)
    return professions.filter(authority=authority)


def policy_combinations(authority: Authority) -> list[tuple[str, str]]:
    """The (trigger, card type) pairs the registry can trigger for this kind of authority, in table order."""
    pairs = {(trigger, card_type) for kind, card_type, trigger in DEFAULTS if kind == authority.kind}
    return [(t, c) for t in Trigger.values for c in CardType.values if (t, c) in pairs]


def policy_target(
    *, actor: Any, card_type: str, trigger: str, profession_code: str | None = None
) -> tuple[Authority, Profession | None]:
    """Who may change which row, checked in the order the API answers: not an authority's operator (403),
    a card type not issued on this trigger or a profession not the authority's (404)."""
    authority = policy_authority(actor)
    if (authority.kind, card_type, trigger) not in DEFAULTS:
        raise PolicyNotFound()
    if profession_code is None:
        return authority, None
    code = profession_code if isinstance(profession_code, str) else ""
    profession = None
    if PROFESSION_CODE.fullmatch(code):  # no NUL byte or overlong code ever reaches the database
        profession = policy_professions(authority).filter(pk=code).first()
    if profession is None:
        raise PolicyProfessionNotFound()
    return authority, profession


PROFESSION_CODE = re.compile(r"[0-9A-Za-z]{1,4}")


def policy_set(
    *,
    actor: Any,
    card_type: str,
    trigger: str,
    mode: str,
    approve: bool,
    profession_code: str | None = None,
) -> IssuancePolicy:
    """An authority's operator chooses what the platform does, for one card type and trigger (and, with
    ``profession_code``, for one profession only: that row wins over the authority's). Audited."""
    authority, profession = policy_target(
        actor=actor, card_type=card_type, trigger=trigger, profession_code=profession_code
    )
    if mode not in Mode.values:
        raise InvalidInput(_("Choose off, proposed or automatic."), field="mode")
    if not isinstance(approve, bool):
        raise InvalidInput(_("Say whether the order is approved at once (true or false)."), field="approve")
    with transaction.atomic():
        policy, before = _policy_locked(authority, card_type, trigger, profession)
        policy.mode, policy.approve, policy.updated_by = mode, approve, actor
        policy.save()
        _audit("issuance_policy.changed", actor, policy, before=before)
    return policy


def policy_remove(*, actor: Any, card_type: str, trigger: str, profession_code: str) -> bool:
    """Remove a profession's own row: the profession falls back to the authority's. Audited; removing a row
    that is not there is harmless (returns False)."""
    authority, profession = policy_target(
        actor=actor, card_type=card_type, trigger=trigger, profession_code=profession_code
    )
    with transaction.atomic():
        rows = IssuancePolicy.objects.select_for_update().filter(
            authority=authority, card_type=card_type, trigger=trigger, profession=profession
        )
        policy = rows.first()
        if policy is None:
            return False
        before = _state(policy)
        policy.delete()
        policy.profession = profession  # the audit row names what was removed
        _audit("issuance_policy.removed", actor, policy, before=before)
    return True


def _policy_locked(
    authority: Authority, card_type: str, trigger: str, profession: Profession | None
) -> tuple[IssuancePolicy, dict[str, Any] | None]:
    """The row, locked (created with the authority's current choice when a profession gets its own)."""
    key = {"authority": authority, "card_type": card_type, "trigger": trigger}
    policy = IssuancePolicy.objects.select_for_update().filter(**key, profession=profession).first()
    if policy is not None:
        return policy, _state(policy)
    if profession is None:  # an authority created without its defaults
        default = default_for(authority_kind=authority.kind, card_type=card_type, trigger=trigger)
        return IssuancePolicy(**key, mode=default.mode, approve=default.approve), None
    return IssuancePolicy(**key, profession=profession), None


def _state(policy: IssuancePolicy) -> dict[str, Any]:
    return {"mode": policy.mode, "approve": policy.approve}


def _audit(action: str, actor: Any, policy: IssuancePolicy, *, before: dict[str, Any] | None) -> None:
    audit_log.append(
        action,
        actor=actor,
        object_type="issuance_policy",
        object_id=f"{policy.card_type}:{policy.trigger}:{policy.profession_id or '*'}",
        authority_id=policy.authority_id,
        detail={
            "card_type": policy.card_type,
            "trigger": policy.trigger,
            "profession": policy.profession_id,
            "before": before,
            "after": None if action.endswith("removed") else _state(policy),
        },
    )


# --- the defaults are always there -------------------------------------------------------------------------


def policies_ensure_all(sender: Any = None, **kwargs: Any) -> None:
    """The default rows for every authority: after every migrate, and after a flush (a TransactionTestCase
    teardown emits post_migrate, once the registry has restored its authorities)."""
    for authority in Authority.objects.all():
        policies_ensure(authority)


def _authority_saved(
    sender: Any, instance: Authority, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:  # an authority created later gets today's national practice too
        policies_ensure(instance)


post_save.connect(_authority_saved, sender=Authority, dispatch_uid="lifecycle.policies.authority_defaults")
