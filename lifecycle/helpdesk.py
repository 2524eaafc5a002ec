"""The help-desk unblock (docs/codes.md): the holder on the phone reads the challenge ``cpx-card helpdesk``
shows; an operator of the card types it with their identity-check note (``unblock_request_open``); a second
operator approves (approval ``card.unblock``, registered in ``LifecycleConfig.ready()``); the signing
service (task ``signing.unblock_response``) checks the approval again, computes the response for that card
and challenge (``pki.unblock.helpdesk_response``) and seals it on the row; ``unblock_response_reveal``
shows it once, to the requesting operator only, and purges it. A response left unseen is purged after
CPX_UNBLOCK_RESPONSE_MINUTES (``helpdesk_sweep``). The PUK itself is never shown to anyone.

Who may: the rules of ``lifecycle.codes`` (ANS's help desk for every card, an Ordre's operators for the cards
of their authority).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from approvals import errors as approval_errors
from approvals import services as approvals
from approvals.models import ApprovalRequest
from cards import mailers
from cards import services as card_services
from cards.models import Card, CardEvent
from core.errors import DomainError, NotPermitted
from core.roles import OPERATORS, role_of
from core.tasks import run_signing_task
from notifications.events import Event
from pki import unblock

from .codes import (
    RESEND_AFTER,
    audit_card,
    authority_id,
    card_for_codes,
    card_of,
    check_approved,
    checked_identity,
    may_approve,
    operator_may_act,
    refuse_dead,
)
from .models import UnblockRequest
from .telling import tell_holder

UNBLOCK = "card.unblock"
UNBLOCK_RESPONSE_TASK = "signing.unblock_response"


class ChallengeUsed(DomainError):
    """A challenge is one-time: the agent consumes it at its first attempt."""

    code = "challenge_used"
    status = 409
    default_message = gettext_lazy(
        "This challenge was already used for this card: ask the holder for a new one (cpx-card helpdesk)."
    )


class ResponseNotReady(DomainError):
    code = "response_not_ready"
    status = 409
    default_message = gettext_lazy("The response is not ready yet: reload this page in a moment.")


class ResponseGone(DomainError):
    """Shown once already, or purged unseen: a new request (with a new challenge) is needed."""

    code = "response_gone"
    status = 410
    default_message = gettext_lazy("This response was already shown or has expired: open a new request.")


def register_approvals() -> None:
    """Called by ``LifecycleConfig.ready()``."""
    approvals.register(
        UNBLOCK,
        label=str(gettext_lazy("Help-desk unblock")),
        may_request=_may_request_unblock,
        may_approve=may_approve,
        execute=_unblock_approved,
        ttl_hours=2,  # the holder is on the phone, or calls back the same day
    )


def _may_request_unblock(user: Any, payload: dict) -> bool:
    card = card_of(payload)
    return card is not None and operator_may_act(user, card)


def card_for_unblock(*, actor: Any, card_id: int) -> Card:
    """The card ``actor`` may open a help-desk unblock for, before anything they send is read: operators
    only (403 for anyone else), and a card of theirs (``card_for_codes``: not found otherwise)."""
    if role_of(actor) not in OPERATORS:
        raise NotPermitted(_("The help desk's operators unblock cards."))
    return card_for_codes(actor=actor, card_id=card_id)


def unblock_request_open(
    *, card: Card | int, actor: Any, challenge: str, identity_check: str
) -> UnblockRequest:
    """An operator asks for the response to the challenge the holder read out; a second operator must
    approve it before the signing service computes it."""
    found = card_for_unblock(actor=actor, card_id=card if isinstance(card, int) else int(card.pk))
    point = unblock.normalize_challenge(challenge)
    check = checked_identity(identity_check)
    with transaction.atomic():
        locked = card_services.card_lock(found)
        refuse_dead(locked)
        if UnblockRequest.objects.filter(card=locked, challenge=point).exists():
            raise ChallengeUsed(field="challenge")
        row = UnblockRequest.objects.create(
            card=locked, challenge=point, identity_check=check, requested_by=actor
        )
        row.approval = approvals.request(
            action=UNBLOCK,
            actor=actor,
            payload={"unblock_request": row.pk, "card": locked.pk},
            summary=_("Help-desk unblock of card %(number)s") % {"number": locked.display_number},
            authority_id=authority_id(locked),
            object_type="card",
            object_id=str(locked.pk),
        )
        row.save(update_fields=["approval"])
        CardEvent.objects.create(card=locked, kind="unblock_requested", detail={"unblock_request": row.pk})
    return row


def _unblock_approved(approval: ApprovalRequest) -> dict:
    row = UnblockRequest.objects.select_for_update().get(approval=approval)
    refuse_dead(card_services.card_lock(row.card_id))
    row.approved_at = timezone.now()
    row.save(update_fields=["approved_at"])
    transaction.on_commit(lambda: run_signing_task(UNBLOCK_RESPONSE_TASK, row.pk))
    return {"unblock_request": row.pk}


def unblock_response_compute(*, unblock_request_id: int) -> bool:
    """In the signing service: compute the response (``pki.unblock.helpdesk_response``) and seal it on
    the row; refused without the approval. Idempotent; returns whether it computed one now."""
    with transaction.atomic():
        row = UnblockRequest.objects.select_for_update().get(pk=unblock_request_id)
        if row.answered_at is not None or row.purged_at is not None:
            return False
        check_approved(row.approval, UNBLOCK, row.requested_by_id)
        card = card_services.card_lock(row.card_id)
        if card.state not in Card.LIVE_STATES:  # opposed or withdrawn since the approval: nothing to unblock
            _purge(row)
            return False
        response = unblock.helpdesk_response(card.number, card.puk_key_version, row.challenge)
        row.response_sealed, row.answered_at = mailers.seal(response.encode()), timezone.now()
        del response
        row.save(update_fields=["response_sealed", "answered_at"])
        audit_card(
            "card.unblock_response",
            actor=None,
            card=card,
            step="sealed",
            unblock_request=row.pk,
            approval=row.approval_id,
            requested_by=row.requested_by_id,
            key_version=card.puk_key_version,
        )
    return True


def unblock_response_reveal(*, unblock_request: UnblockRequest | int, actor: Any) -> str:
    """The response, to the operator who opened the request and only to them, once: it is purged as it is
    shown. Returns its 8 digits."""
    pk = unblock_request if isinstance(unblock_request, int) else int(unblock_request.pk)
    stale, response = False, ""
    with transaction.atomic():
        row = UnblockRequest.objects.select_for_update().select_related("card").filter(pk=pk).first()
        if row is None or row.requested_by_id != getattr(actor, "pk", None):
            raise NotPermitted(_("Only the operator who opened this request sees its response."))
        if row.shown_at is not None or row.purged_at is not None:
            raise ResponseGone()
        if row.answered_at is None:
            if row.approved_at is None:
                raise approval_errors.ApprovalRequired(request_id=row.approval_id)
            raise ResponseNotReady()
        if _past_due(row):
            _purge(row)
            stale = True
        else:
            response = mailers.unseal(bytes(row.response_sealed or b"")).decode()
            _shown(row, actor)
    if stale:  # raised out of the transaction, so the purge is kept
        raise ResponseGone()
    return response


def _past_due(row: UnblockRequest) -> bool:
    limit = dt.timedelta(minutes=settings.CPX_UNBLOCK_RESPONSE_MINUTES)
    return row.answered_at is not None and row.answered_at + limit <= timezone.now()


def _purge(row: UnblockRequest) -> None:
    row.response_sealed, row.purged_at = None, timezone.now()
    row.save(update_fields=["response_sealed", "purged_at"])
    CardEvent.objects.create(
        card_id=row.card_id, kind="unblock_response_purged", detail={"unblock_request": row.pk}
    )


def _shown(row: UnblockRequest, actor: Any) -> None:
    now = timezone.now()
    row.response_sealed, row.shown_at, row.purged_at = None, now, now
    row.save(update_fields=["response_sealed", "shown_at", "purged_at"])
    card = row.card
    CardEvent.objects.create(card=card, kind="unblock_response_shown", detail={"unblock_request": row.pk})
    tell_holder(
        card, Event.CARD_UNBLOCK_RESPONSE, key=f"card_unblock_response:{row.pk}", given_at=now.isoformat()
    )
    audit_card("card.unblock_response", actor=actor, card=card, step="shown", unblock_request=row.pk)


def helpdesk_sweep() -> dict[str, int]:
    """Periodic: purge the responses left unseen too long, and send the signing service again the approved
    requests it has not answered yet (a message lost on the way) while their operator may still see them."""
    now = timezone.now()
    window = dt.timedelta(minutes=settings.CPX_UNBLOCK_RESPONSE_MINUTES)
    purged = 0
    late = Q(answered_at__lte=now - window) | Q(answered_at__isnull=True, approved_at__lte=now - window)
    stale = UnblockRequest.objects.filter(late, shown_at__isnull=True, purged_at__isnull=True)
    for pk in stale.values_list("pk", flat=True):
        with transaction.atomic():
            row = stale.select_for_update(skip_locked=True).filter(pk=pk).first()
            if row is not None:
                _purge(row)
                purged += 1
    waiting = UnblockRequest.objects.filter(
        approved_at__range=(now - window, now - RESEND_AFTER),
        answered_at__isnull=True,
        purged_at__isnull=True,
    )
    pks = list(waiting.values_list("pk", flat=True))
    for pk in pks:
        run_signing_task(UNBLOCK_RESPONSE_TASK, pk)
    return {"purged": purged, "responses": len(pks)}
