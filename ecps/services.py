"""The e-CPS's life: which e-CPS a user may see, whether one may sign in now, and its state changes:
suspension (phone misplaced) and reinstatement, opposition (lost or stolen: revoked for good), and the
revocation of those whose holder or exercise the registry marks inactive.

Activation is ``ecps.activation`` (the proof) and ``ecps.enrolment`` (the passkey), sign-in
``ecps.signin``, relying parties ``ecps.relying_parties``. Every entry point (portal pages, the API, the
OpenID Connect provider, periodic tasks, commands) calls these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from cards.models import Card
from core import transitions
from core.errors import InvalidInput, NotFound
from core.roles import role_of
from notifications.services import notify
from notifications.webhooks import webhooks_emit_many

from . import errors, logout
from .models import ECps, ECpsEvent
from .scoping import ecps_visible_to

# The notification that tells a holder their e-CPS is revoked (registered by ecps.apps).
ECPS_REVOKED_EVENT = "ecps_revoked"

User = Any  # a django.contrib.auth user with a registry Account
LIVE = ECps.LIVE_STATES
OPPOSITION_REASONS = (ECps.Reason.LOST, ECps.Reason.STOLEN)
# The columns each transition writes (the state, and what the transition method sets beside it).
FIELDS = {
    "suspend": ["state"],
    "reinstate": ["state"],
    "revoke": ["state", "revoked_at", "revocation_reason"],
}


def ecps_usable(ecps_id: int | None) -> bool:
    """May this e-CPS sign in now? Active, and the registry still says its holder and exercise are active
    (checked at every use: a holder struck off is refused at once, before any revocation has run)."""
    if ecps_id is None:
        return False
    usable = ECps.objects.filter(
        pk=ecps_id, state=ECps.State.ACTIVE, holder__is_active=True, exercise__is_active=True
    )
    return usable.exists()


def ecps_for(*, actor: User, ecps_id: int) -> ECps:
    ecps = ecps_visible_to(actor).select_related("holder", "exercise__profession").filter(pk=ecps_id).first()
    if ecps is None:
        raise NotFound(_("No such e-CPS."))
    return ecps


# --- opposition, suspension ----------------------------------------------------------------------------


def ecps_declare_opposition(*, ecps: ECps, actor: User, reason: str = ECps.Reason.LOST) -> ECps:
    """Loss or theft of the phone: the e-CPS is revoked at once and for good (a new one is activated
    afterwards), with what follows every revocation (``_revoked_effects``)."""
    if reason not in OPPOSITION_REASONS:
        raise InvalidInput(_("The reason is lost or stolen."), field="reason")
    step = transitions.Step("revoke", reason, {"reason": reason})
    return _fire(ecps, step, actor, invalid=errors.AlreadyRevoked, actor_role=role_of(actor) or "")


def ecps_suspend(*, ecps: ECps, actor: User) -> ECps:
    """The holder cannot find the phone for now: sign-in is refused until reinstated."""
    return _fire(ecps, transitions.Step("suspend"), actor)


def ecps_reinstate(*, ecps: ECps, actor: User) -> ECps:
    return _fire(ecps, transitions.Step("reinstate"), actor)


def _fire(
    ecps: ECps,
    step: transitions.Step,
    actor: User,
    *,
    invalid: type[errors.InvalidTransition] = errors.InvalidTransition,
    **detail: Any,
) -> ECps:
    """An e-CPS the actor sees (else not found), locked, then the transition as the machine allows it (its
    ``permission=`` for this actor, then its states), saved with its event row."""
    ecps_for(actor=actor, ecps_id=ecps.pk)
    with transaction.atomic():
        locked = transitions.lock(ECps.objects, ecps.pk)
        fired = transitions.fire(
            locked,
            [step],
            actor=actor,
            event=_event(actor_id=actor.pk, **detail),
            fields=FIELDS[step.name],
            invalid=invalid,
        )
        if step.name == "revoke":
            _revoked_effects([fired.pk])
        return fired


def _event(**detail: Any) -> transitions.EventFactory:
    """The event row of a transition: its kind is the state reached, its detail the state left, the reason
    given and who fired it."""

    def event(ecps: ECps, name: str, from_state: str, reason: str) -> ECpsEvent:
        given = {"reason": reason} if reason else {}
        return ECpsEvent(ecps=ecps, kind=str(ecps.state), detail={"from": from_state, **given, **detail})

    return event


# --- striking off --------------------------------------------------------------------------------------

REVOKE_WHEN = (
    (ECps.Reason.HOLDER_INACTIVE, Q(holder__is_active=False)),
    (ECps.Reason.EXERCISE_INACTIVE, Q(holder__is_active=True, exercise__is_active=False)),
)


def ecps_revoke_for_inactive_holders(*, chunk: int = 500) -> int:
    """Revoke every live e-CPS whose holder (struck off, left the registry) or exercise the registry marks
    inactive. Set-based: a chunk of ids locked (SKIP LOCKED, so concurrent runs share the work), one
    UPDATE and one bulk INSERT of events per chunk; memory is one chunk's whatever the table size.
    Sign-in already refuses these holders: this makes the refusal final and visible.

    The platform's own revocation (``ecps.permissions.REVOKES`` lets the system revoke): the one path that
    writes the ``revoke`` transition's columns (``FIELDS``) for a whole chunk at once instead of firing it
    row by row, from the states the transition leaves (``ECps.LIVE_STATES``)."""
    revoked = 0
    for reason, condition in REVOKE_WHEN:
        while True:
            count = _revoke_chunk(reason, condition, chunk)
            revoked += count
            if count < chunk:
                break
    return revoked


def _revoke_chunk(reason: str, condition: Q, chunk: int) -> int:
    with transaction.atomic():
        ids = list(
            ECps.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(condition, state__in=LIVE)
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return 0
        ECps.objects.filter(pk__in=ids).update(
            state=ECps.State.REVOKED, revoked_at=timezone.now(), revocation_reason=reason
        )
        ECpsEvent.objects.bulk_create(
            ECpsEvent(ecps_id=pk, kind=ECps.State.REVOKED, detail={"reason": reason}) for pk in ids
        )
        _revoked_effects(ids)
    return len(ids)


# --- a card of the exercise in opposition --------------------------------------------------------------


def ecps_revoke_for_card_opposition(*, card: Card) -> list[int]:
    """The rule (docs/ecps.md, "Opposition of a card"): a card that goes to ``opposed`` (lost, stolen or
    never received: its keys are treated as compromised) revokes the live e-CPS of the same exercise,
    however it was activated (with that card, or by codes): whoever holds the card may hold the phone or
    the mailbox too, and the holder activates a new e-CPS with the replacement card. Runs in the card's
    transition's transaction (``ecps.apps`` subscribes to the card's ``post_transition``). A damaged or
    defective card (``revoked``, superseded) leaves the e-CPS alone: it never left the holder's hands."""
    if card.exercise_id is None:
        return []
    with transaction.atomic():
        ids = list(
            ECps.objects.select_for_update()
            .filter(exercise_id=card.exercise_id, state__in=LIVE)
            .values_list("pk", flat=True)
        )
        if not ids:
            return []
        ECps.objects.filter(pk__in=ids).update(
            state=ECps.State.REVOKED, revoked_at=timezone.now(), revocation_reason=ECps.Reason.CARD_OPPOSED
        )
        detail = {"reason": ECps.Reason.CARD_OPPOSED, "card": card.pk}
        ECpsEvent.objects.bulk_create(
            ECpsEvent(ecps_id=pk, kind=ECps.State.REVOKED, detail=detail) for pk in ids
        )
        _revoked_effects(ids)
    return ids


# --- what follows every revocation ---------------------------------------------------------------------


def _revoked_effects(ecps_ids: list[int]) -> None:
    """In the revocation's transaction: every access and refresh token the e-CPS obtained is revoked, the
    relying parties' sessions it opened end (their back-channel logout tokens leave on commit), the
    holder is told (the outbox), and so are the relying parties subscribed (webhooks, keyed by holder)."""
    _tokens_revoke(ecps_ids)
    logout.sessions_end_for_ecps(ecps_ids)
    revoked = list(ECps.objects.filter(pk__in=ecps_ids).select_related("holder", "exercise__profession"))
    webhooks_emit_many(event="ecps.revoked", messages=[_webhook_message(ecps) for ecps in revoked])
    for ecps in revoked:
        notify(
            recipient=ecps.holder,
            event=ECPS_REVOKED_EVENT,
            context={
                "profession": str(ecps.exercise.profession.label),
                "reason": str(ecps.get_revocation_reason_display()),
                "revoked_at": (ecps.revoked_at or timezone.now()).isoformat(),
            },
            dedup_key=f"ecps_revoked:{ecps.pk}",
        )


def _webhook_message(ecps: ECps) -> tuple[str, dict[str, Any]]:
    holder = ecps.holder.national_id
    return holder, {
        "ecps_id": ecps.pk,
        "holder": {"national_id": holder},
        "profession": ecps.exercise.profession_id,
        "reason": str(ecps.revocation_reason),
        "revoked_at": ecps.revoked_at or timezone.now(),
    }


def _tokens_revoke(ecps_ids: Iterable[int]) -> None:
    access_ids = list(
        get_access_token_model()
        .objects.filter(ecps_binding__ecps_id__in=list(ecps_ids))
        .values_list("pk", flat=True)
    )
    if not access_ids:
        return
    for refresh in get_refresh_token_model().objects.filter(
        access_token_id__in=access_ids, revoked__isnull=True
    ):
        refresh.revoke()  # and its access token
    for access in get_access_token_model().objects.filter(pk__in=access_ids).select_related("id_token"):
        if access.id_token:
            access.id_token.revoke()
        access.revoke()
