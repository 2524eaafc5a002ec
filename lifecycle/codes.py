"""Codes without a stored PUK (docs/codes.md): the codes letter re-issued on request, and the rules it shares
with the help-desk unblock (``lifecycle.helpdesk``).

A card's PUK is derived on the unblock token from its number and key version (``pki.unblock``); nobody
stores it, and nothing but the signing service (the only process with the unblock token's PIN besides the
stations) derives it again. Both use cases need a second person: they ask ``approvals`` (actions
``codes.reissue`` and ``card.unblock``, registered in ``LifecycleConfig.ready()``), and the approval that
reaches the quorum hands the work to the signing service (``core.tasks.run_signing_task``, tasks
``signing.codes_letter`` and ``signing.unblock_response`` in ``lifecycle.tasks``, on its queue), which checks
the approval again before it touches the token (``check_approved``). Task arguments and results carry ids
only: no code ever reaches the broker.

Codes letter re-issued (``codes_reissue_request``): for a live card (personalized, shipped, active), asked
for by its holder, who signs in again with their password (``holder_identity_check``), or by an operator on
their behalf, who records how they checked the caller's identity. Approved by an operator of the card (not
the requester); the signing service then renders the letter with the PUK alone (``cards.mailers``), sealed
like the first codes letter, printed by the next print run (``lifecycle.printing``, no shipment wait) and
purged once printed. No PIN: the holder sets a new one with the PUK in the agent (``cpx-card unblock``). Its
fee is the policy CPX_CODES_REISSUE_FEE (default free), recorded on the request and told to the holder.

Who may (``operator_may_act``): ANS's help desk serves every card; an Ordre's operators the cards of their
authority (``cards.scoping``); a holder their own cards.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from approvals import errors as approval_errors
from approvals import services as approvals
from approvals.models import ApprovalRequest
from cards import mailers
from cards import services as card_services
from cards.errors import CardNotFound, InvalidCardState
from cards.models import Card, CardEvent, Mailer
from cards.scoping import cards_visible_to
from core.errors import InvalidInput
from core.formats import format_date, format_money
from core.roles import OPERATORS, Role, role_of
from core.tasks import run_signing_task
from notifications.events import Event
from pki import unblock

from .models import CodesReissue
from .telling import tell_holder

log = logging.getLogger(__name__)

REISSUE = "codes.reissue"
CODES_LETTER_TASK = "signing.codes_letter"
MIN_IDENTITY_CHECK = 10  # characters: "what was checked", not a tick box
RESEND_AFTER = dt.timedelta(minutes=5)  # approved work the signing service has not done yet: sent again


class WrongPassword(InvalidInput):
    code = "wrong_password"
    default_message = gettext_lazy("This is not your password.")


# --- who may do what -------------------------------------------------------------------------------


def operator_may_act(user: Any, card: Card) -> bool:
    """ANS's help desk acts for every card; an Ordre's operator for the cards of their authority."""
    role = role_of(user)
    if role == Role.ANS_OPERATOR:
        return True
    return role == Role.AUTHORITY_OPERATOR and cards_visible_to(user).filter(pk=card.pk).exists()


def card_for_codes(*, actor: Any, card_id: int) -> Card:
    """The card ``actor`` may ask codes for: a holder their own, an operator as ``operator_may_act``;
    "not found" otherwise (its existence does not leak)."""
    card = Card.objects.select_related("professional", "exercise__profession").filter(pk=card_id).first()
    if card is None:
        raise CardNotFound()
    role = role_of(actor)
    if role == Role.HOLDER and cards_visible_to(actor).filter(pk=card.pk).exists():
        return card
    if role in OPERATORS and operator_may_act(actor, card):
        return card
    raise CardNotFound()


def card_of(payload: dict) -> Card | None:
    return (
        Card.objects.select_related("professional", "exercise__profession")
        .filter(pk=payload.get("card"))
        .first()
    )


def _may_request_reissue(user: Any, payload: dict) -> bool:
    card = card_of(payload)
    if card is None:
        return False
    if role_of(user) == Role.HOLDER:
        return cards_visible_to(user).filter(pk=card.pk).exists()
    return operator_may_act(user, card)


def may_approve(user: Any, request: ApprovalRequest) -> bool:
    card = card_of(request.payload)
    return card is not None and operator_may_act(user, card)


def register_approvals() -> None:
    """Called by ``LifecycleConfig.ready()``."""
    approvals.register(
        REISSUE,
        label=str(gettext_lazy("Codes letter re-issued")),
        may_request=_may_request_reissue,
        may_approve=may_approve,
        execute=_reissue_approved,
    )


def authority_id(card: Card) -> int | None:
    """The Ordre that reviews the card's profession (its operators see the request), or None (ANS)."""
    if card.exercise is not None and card.professional.rpps:
        return card.exercise.profession.authority_id
    return None


def refuse_dead(card: Card) -> None:
    if card.state not in Card.LIVE_STATES:
        raise InvalidCardState(
            _("A card in state “%(state)s” has no codes to recover: it cannot be used any more.")
            % {"state": card.get_state_display()}
        )


def checked_identity(text: str) -> str:
    text = " ".join(str(text or "").split())
    if len(text) < MIN_IDENTITY_CHECK:
        raise InvalidInput(
            _("Say how you checked the holder's identity (at least %(n)d characters).")
            % {"n": MIN_IDENTITY_CHECK},
            code="identity_check_required",
            field="identity_check",
        )
    return text[:1000]


def holder_identity_check(request: Any, password: str) -> str:
    """The holder's identity check: their signed-in session, re-authenticated with their password (through
    the authentication backends, so wrong passwords count towards the lock-out). Returns the note the
    request records."""
    user = request.user
    again = authenticate(request, username=user.get_username(), password=password or "")
    if again is None or again.pk != user.pk:
        raise WrongPassword(field="password")
    return _("Signed-in holder, password typed again on %(at)s") % {
        "at": f"{timezone.localtime():%Y-%m-%d %H:%M}"
    }


def audit_card(action: str, *, actor: Any, card: Card, **detail: Any) -> None:
    from audit import log as audit_log  # noqa: PLC0415 - the audit app's module (helper AUDIT)

    audit_log.append(
        action,
        actor=actor,
        object_type="card",
        object_id=card.pk,
        authority_id=authority_id(card),
        detail={"card_number": card.number, **detail},
    )


def check_approved(approval: ApprovalRequest | None, action: str, requester_id: int | None) -> None:
    """What the signing service checks before it touches the token, whatever its caller: the request was
    approved by as many people as its quorum, none of them its requester."""
    if (
        approval is None
        or approval.action != action
        or approval.state
        not in (
            ApprovalRequest.State.APPROVED,
            ApprovalRequest.State.EXECUTED,
        )
    ):
        raise approval_errors.ApprovalRequired(request_id=getattr(approval, "pk", None))
    approvers = approval.decisions.filter(approve=True).exclude(approver_id=requester_id)
    if approvers.values("approver_id").distinct().count() < approval.quorum:
        raise approval_errors.ApprovalRequired(request_id=approval.pk)


# --- the codes letter re-issued --------------------------------------------------------------------


def reissue_fee() -> Decimal | None:
    """The policy (CPX_CODES_REISSUE_FEE, euros): None when free (the default)."""
    try:
        fee = Decimal(str(settings.CPX_CODES_REISSUE_FEE).strip() or "0")
    except InvalidOperation:
        raise ImproperlyConfigured(
            f"CPX_CODES_REISSUE_FEE={settings.CPX_CODES_REISSUE_FEE!r} is not an amount"
        ) from None
    return fee.quantize(Decimal("0.01")) if fee > 0 else None


def codes_reissue_request(*, card: Card | int, actor: Any, identity_check: str) -> CodesReissue:
    """Ask for the card's codes letter again. ``identity_check``: for a holder, ``holder_identity_check``'s
    note; for an operator, what they checked. Nothing is sent until a second person approves."""
    pk = card if isinstance(card, int) else int(card.pk)
    found = card_for_codes(actor=actor, card_id=pk)
    via = CodesReissue.Via.HOLDER if role_of(actor) == Role.HOLDER else CodesReissue.Via.OPERATOR
    check = checked_identity(identity_check)
    fee = reissue_fee()
    with transaction.atomic():
        locked = card_services.card_lock(found)
        refuse_dead(locked)
        reissue = CodesReissue.objects.create(
            card=locked, requested_by=actor, requested_via=via, identity_check=check, fee=fee
        )
        summary = _("Codes letter of card %(number)s sent again (%(fee)s)") % {
            "number": locked.display_number,
            "fee": format_money(fee) if fee else _("free"),
        }
        reissue.approval = approvals.request(
            action=REISSUE,
            actor=actor,
            payload={"codes_reissue": reissue.pk, "card": locked.pk},
            summary=summary,
            authority_id=authority_id(locked),
            object_type="card",
            object_id=str(locked.pk),
        )
        reissue.save(update_fields=["approval"])
        CardEvent.objects.create(
            card=locked, kind="codes_reissue_requested", detail={"reissue": reissue.pk, "via": via}
        )
    return reissue


def _reissue_approved(approval: ApprovalRequest) -> dict:
    """The approval reached its quorum (in its transaction): the signing service makes the letter once
    this commits."""
    reissue = CodesReissue.objects.select_for_update().get(approval=approval)
    refuse_dead(card_services.card_lock(reissue.card_id))
    reissue.approved_at = timezone.now()
    reissue.save(update_fields=["approved_at"])
    transaction.on_commit(lambda: run_signing_task(CODES_LETTER_TASK, reissue.pk))
    return {"codes_reissue": reissue.pk}


def codes_letter_produce(*, reissue_id: int) -> int | None:
    """In the signing service: derive the PUK again and seal the re-issued codes letter (kind ``codes``)
    for the print run. Idempotent; returns the mailer's id, or None for a card no longer live."""
    with transaction.atomic():
        reissue = CodesReissue.objects.select_for_update().get(pk=reissue_id)
        if reissue.mailer_id is not None or reissue.produced_at is not None:
            return reissue.mailer_id
        check_approved(reissue.approval, REISSUE, reissue.requested_by_id)
        card = card_services.card_lock(reissue.card_id)
        if card.state not in Card.LIVE_STATES:
            CardEvent.objects.create(card=card, kind="codes_reissue_dropped", detail={"state": card.state})
            reissue.produced_at = timezone.now()
            reissue.save(update_fields=["produced_at"])
            return None
        mailer = Mailer.objects.create(
            card=card, kind=Mailer.Kind.CODES, content=_sealed_letter(card, reissue)
        )
        reissue.mailer, reissue.produced_at = mailer, timezone.now()
        reissue.save(update_fields=["mailer", "produced_at"])
        _reissued(card, reissue, mailer)
        return int(mailer.pk)


def _sealed_letter(card: Card, reissue: CodesReissue) -> bytes:
    puk = unblock.puk_for(card.number, card.puk_key_version)
    pdf = mailers.render_codes_reissue(
        addressee(card),
        puk=puk,
        reference=reissue.reference,
        card_number=card.number,
        requested_on=timezone.localdate(reissue.created_at),
    )
    del puk
    return mailers.seal(pdf)


def _reissued(card: Card, reissue: CodesReissue, mailer: Mailer) -> None:
    fee = str(reissue.fee) if reissue.fee else ""
    CardEvent.objects.create(
        card=card, kind="codes_reissued", detail={"reissue": reissue.pk, "mailer": mailer.pk, "fee": fee}
    )
    tell_holder(
        card,
        Event.CODES_REISSUED,
        key=f"codes_reissued:{reissue.pk}",
        reference=reissue.reference,
        amount=str(reissue.fee or Decimal("0.00")),
    )
    audit_card(
        "codes.reissued",
        actor=None,
        card=card,
        reissue=reissue.pk,
        approval=reissue.approval_id,
        requested_by=reissue.requested_by_id,
        via=reissue.requested_via,
        key_version=card.puk_key_version,
        fee=fee,
    )


def addressee(card: Card) -> mailers.Addressee:
    """Where the card's letters go: its holder at the card's structure, or their first active activity's."""
    person = card.professional
    structure = card.structure
    if structure is None and card.exercise is not None:
        activity = card.exercise.activities.filter(is_active=True, structure__isnull=False).first()
        structure = activity.structure if activity else None
    lines = tuple(structure.address_lines) if structure else ()
    name = f"{person.exercise_civility or person.civility} {person.full_name}".strip()
    return mailers.Addressee(
        name, lines, card.number, card.card_type, format_date(card.valid_until, language="fr")
    )


# --- the sweep -------------------------------------------------------------------------------------


def codes_sweep() -> dict[str, int]:
    """Periodic: send the signing service again the approved letters it has not made yet (a message lost
    on the way). Idempotent."""
    before = timezone.now() - RESEND_AFTER
    letters = CodesReissue.objects.filter(approved_at__lte=before, produced_at__isnull=True)
    pks = list(letters.values_list("pk", flat=True))
    for pk in pks:
        run_signing_task(CODES_LETTER_TASK, pk)
    return {"letters": len(pks)}
