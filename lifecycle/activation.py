"""Activation: a shipped card becomes active when its holder proves they hold it, and the card it renews or
replaces is withdrawn, so a holder has one live card per exercise.

The proof is a one-time challenge bound to the card (``cards.models.ActivationChallenge``), signed with the
card's authentication key by the holder's agent (``cpx-card sign``, after the PIN, on the holder's computer)
and checked with the card's certificate (``cards.proof``). The platform never sees the PIN. Where the card's
authority allows it (``registry.Authority.allow_receipt_confirmation``), a confirmation of receipt without
proof activates the card too, recorded as such.

The card's order was done with at ``produced``: the card's own state is what shows it was received.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import log as audit_log
from cards import proof
from cards import services as card_services
from cards.errors import CardNotFound, InvalidCardState
from cards.models import ActivationChallenge, Card, CardEvent
from cards.scoping import cards_visible_to
from core.errors import DomainError, NotPermitted
from pki.models import Certificate
from registry.models import Authority
from registry.routing import authority_for_exercise

from . import errors
from .withdrawal import card_withdraw

PROOF = "proof_of_possession"
RECEIPT = "receipt_confirmation"


# --- the challenge --------------------------------------------------------------------------------------


def activation_challenge(*, card: Card | int, actor: Any) -> ActivationChallenge:
    """A new challenge for the holder to sign with this shipped card; the card's earlier open challenges
    are closed (one at a time)."""
    activation_check(actor=actor, card=card)
    with transaction.atomic():
        locked = card_services.card_lock(card)
        _check_activable(locked)
        if proof.auth_certificate(locked) is None:
            raise errors.CertificateNotUsable()
        now = timezone.now()
        locked.activation_challenges.filter(closed_at__isnull=True).update(
            closed_at=now, closed_because=ActivationChallenge.Closed.SUPERSEDED
        )
        seconds = settings.CPX_ACTIVATION_CHALLENGE_SECONDS
        return ActivationChallenge.objects.create(
            card=locked, nonce=secrets.token_urlsafe(24), expires_at=now + dt.timedelta(seconds=seconds)
        )


def open_challenge(card: Card) -> ActivationChallenge | None:
    """The card's challenge still open and in time, if any (the newest: issuing one closes the others)."""
    live = card.activation_challenges.filter(closed_at__isnull=True, expires_at__gt=timezone.now())
    return live.select_related("card").order_by("-created_at", "-pk").first()


def sign_command(challenge: ActivationChallenge) -> str:
    """What the holder runs: ``cpx-card sign --card <number> '<challenge>'``."""
    return proof.sign_command(challenge.card.number, challenge.text)


# --- activation -----------------------------------------------------------------------------------------


def card_activate_with_proof(*, card: Card | int, actor: Any, challenge: str, signature: str) -> Card:
    """Activation by proof of possession: ``signature`` (the agent's base64 output) must be the card's
    authentication key's signature of ``challenge``, an open challenge of this card, checked with the
    card's current, unrevoked authentication certificate. A wrong signature is counted on the challenge
    (committed, then refused); at ``MAX_BAD_SIGNATURES`` the challenge is closed."""
    activation_check(actor=actor, card=card)
    raw = proof.signature_from_text(signature)
    with transaction.atomic():
        locked = card_services.card_lock(card)
        _check_activable(locked)
        row = _open_challenge(locked, challenge)
        certificate = proof.auth_certificate(locked)
        if certificate is None:
            raise errors.CertificateNotUsable()
        if raw is not None and proof.signed_by_card(certificate, row.text.encode(), raw):
            _close(row, ActivationChallenge.Closed.USED)
            detail = {"challenge": row.pk, "certificate": certificate.serial}
            return _activate(locked, actor, PROOF, **detail)
        failure = _bad_signature(locked, row)
    raise failure  # after the commit of the wrong signature counted


def card_confirm_receipt(*, card: Card | int, actor: Any) -> Card:
    """Activation by a confirmation of receipt, without proof: only where the card's authority allows it."""
    activation_check(actor=actor, card=card)
    with transaction.atomic():
        locked = card_services.card_lock(card)
        _check_activable(locked)
        authority = card_authority(locked)
        if not authority.allow_receipt_confirmation:
            raise errors.ReceiptConfirmationRefused()
        return _activate(locked, actor, RECEIPT, authority=authority.code)


def receipt_confirmation_allowed(card: Card) -> bool:
    return card_authority(card).allow_receipt_confirmation


def card_authority(card: Card) -> Authority:
    """The authority responsible for the card: the one that reviews its holder's orders for its exercise
    (their Ordre for an RPPS professional of an Ordre's profession, else ANS)."""
    return authority_for_exercise(card.exercise, card.professional)


def _activate(card: Card, actor: Any, method: str, **detail: Any) -> Card:
    """The common end of both ways in: the card, locked by the caller, becomes ``active`` (its CardEvent
    records ``method`` and ``detail``), the previous live card of the same slot (the card this one renews
    or replaces) is revoked as superseded, and the activation is audited."""
    card_services.card_activate(card=card, actor=actor, method=method, **detail)
    for old in _superseded_by(card):
        why = _("replaced by card %(n)s") % {"n": card.display_number}
        card_withdraw(old, crl_reason=Certificate.Reason.SUPERSEDED, why=why, actor=actor)
    # One active card per slot (a constraint checked at commit): a second active card is a clean 409 here.
    card_services.card_slot_settle()
    audit_log.append(
        "card.activated",
        actor=actor,
        object_type="card",
        object_id=card.number,
        authority_id=card_authority(card).pk,
        detail={"method": method, **detail},
    )
    return card


# --- rules ---------------------------------------------------------------------------------------------


def activation_check(*, actor: Any, card: Card | int) -> None:
    """Whether ``actor`` may activate this card at all (its holder's side), before anything they send is
    read: a card they may not see is not found, another role is not permitted."""
    pk = card if isinstance(card, int) else card.pk
    if not cards_visible_to(actor).filter(pk=pk).exists():
        raise CardNotFound()
    if not card_services.card_may("activate", actor):
        raise NotPermitted(_("The card is activated by its holder."))


def _check_activable(card: Card) -> None:
    if card.state != Card.State.SHIPPED:
        raise InvalidCardState(transition="activate", state=card.state, allowed=[])


def _open_challenge(card: Card, text: Any) -> ActivationChallenge:
    """The card's challenge this text names, locked: issued for this card, not closed, not expired."""
    prefix, _sep, rest = (text.strip() if isinstance(text, str) else "").partition("|")
    number, _sep, nonce = rest.partition("|")
    if prefix != ActivationChallenge.PREFIX or number != card.number or not nonce:
        raise errors.ChallengeInvalid()
    row = ActivationChallenge.objects.select_for_update().filter(card=card, nonce=nonce).first()
    if row is None:
        raise errors.ChallengeInvalid()
    if row.closed_at is not None:
        raise errors.ChallengeClosed()
    if row.expires_at <= timezone.now():
        raise errors.ChallengeExpired()
    return row


def _bad_signature(card: Card, row: ActivationChallenge) -> DomainError:
    """One more wrong signature on the challenge (and in the card's history); at the limit it is closed."""
    row.bad_signatures += 1
    left = max(ActivationChallenge.MAX_BAD_SIGNATURES - row.bad_signatures, 0)
    if left == 0:
        row.closed_at, row.closed_because = timezone.now(), ActivationChallenge.Closed.BAD_SIGNATURES
    row.save(update_fields=["bad_signatures", "closed_at", "closed_because"])
    detail = {"challenge": row.pk, "bad_signatures": row.bad_signatures}
    CardEvent.objects.create(card=card, kind="activation_proof_rejected", detail=detail)
    if left == 0:
        message = _(
            "This is not the card's signature of the challenge, and that was the last attempt with it: "
            "ask for a new one."
        )
    else:
        message = _(
            "This is not the card's signature of the challenge. %(left)s attempt(s) left with it."
        ) % {"left": left}
    return errors.SignatureRejected(message, attempts_left=left)


def _close(row: ActivationChallenge, because: str) -> None:
    row.closed_at, row.closed_because = timezone.now(), because
    row.save(update_fields=["closed_at", "closed_because"])


def _superseded_by(card: Card) -> list[Card]:
    """The other live cards of the same slot (exercise, or structure and card type), locked in one order."""
    slot = Card.objects.filter(professional_id=card.professional_id, state__in=Card.LIVE_STATES)
    if card.exercise_id:
        slot = slot.filter(exercise_id=card.exercise_id)
    else:
        slot = slot.filter(exercise__isnull=True, structure_id=card.structure_id, card_type=card.card_type)
    ids = list(slot.exclude(pk=card.pk).order_by("pk").values_list("pk", flat=True))
    return [card_services.card_lock(pk) for pk in ids]
