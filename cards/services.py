"""Use cases of a card: its state changes, its letters and its validity.

The card's state machine (``cards.models.Card``) is fired only here, through ``core.transitions.fire``:
on a card the caller locked (``card_lock``) inside its transaction, each transition checks its
``permission`` (``cards.permissions``) and the state, saves the card and writes its ``CardEvent`` (kind:
the state reached; detail: the state left, the actor and what the caller adds). Revoking or opposing a card
also revokes its certificates (``pki.services.certificate_revoke``: the delta CRL is published on commit) in
the same transaction. The use cases around a state change (shipping batches, oppositions, activation,
striking off, expiry) are ``lifecycle``'s, which call these.

The platform never sees a card's PIN or PUK: the card counts its own tries (the holder's agent, ``cpx-card``,
simulates the count for SoftHSM2 cards), and activation is a proof of possession (``lifecycle.activation``).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.roles import role_of
from core.transitions import fire, lock, may_fire
from notifications.webhooks import card_payload, webhooks_emit
from pki import services as pki_services

from . import mailers
from .errors import CardChanged, CardSlotTaken, InvalidCardState
from .models import Card, CardEvent, Mailer

# --- state changes ---------------------------------------------------------------------------------


def card_lock(card: Card | int) -> Card:
    """The card re-read and locked for this transaction. Its holder, exercise and structure come along
    (messages and replacement orders need them); only the card's own row is locked."""
    pk = card if isinstance(card, int) else int(card.pk)
    return lock(Card.objects.select_related("professional", "exercise", "structure"), pk)


def card_may(transition: str, actor: Any) -> bool:
    """Whether ``actor``'s role may fire ``transition`` on a card at all (the transition's own
    ``permission``, whatever the card's state): for use cases that refuse before they start."""
    return may_fire(Card(), transition, actor)


def card_ship(*, card: Card, actor: Any, **detail: Any) -> Card:
    """Handed to the carrier: ``personalized`` → ``shipped``."""
    return _fire(card, "ship", actor, detail)


def card_activate(*, card: Card, actor: Any, **detail: Any) -> Card:
    """Received by its holder: ``shipped`` → ``active``."""
    return _fire(card, "activate", actor, detail)


# The database's guarantee of one active card per slot (cards migration 0005): checked at commit, because
# an activation makes the new card active before it revokes the one it supersedes.
ONE_ACTIVE_PER_SLOT = "card_one_active_per_slot"


def card_slot_settle() -> None:
    """Check now, not at commit, that no slot touched in this transaction has two active cards, and raise
    ``CardSlotTaken`` (409) if one has: for a use case that made a card active and withdrew what it
    supersedes, so that a violation is a clean conflict rather than a failed commit."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET CONSTRAINTS {ONE_ACTIVE_PER_SLOT} IMMEDIATE")
    except IntegrityError as error:
        if getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) == ONE_ACTIVE_PER_SLOT:
            raise CardSlotTaken() from None
        raise
    with connection.cursor() as cursor:
        cursor.execute(f"SET CONSTRAINTS {ONE_ACTIVE_PER_SLOT} DEFERRED")


def card_oppose(*, card: Card, actor: Any, crl_reason: str, **detail: Any) -> int:
    """Blocked for good (out of the holder's hands): ``opposed``, its certificates revoked for
    ``crl_reason``. Returns how many certificates were revoked."""
    _fire(card, "oppose", actor, {"crl_reason": crl_reason, **detail})
    _discard_pin_mailer(card, "oppose")
    _tell_relying_parties(card, "card.opposed", crl_reason)
    return pki_services.certificate_revoke(card=card, reason=crl_reason, actor=_who(actor, card, "oppose"))


def card_revoke(*, card: Card, actor: Any, crl_reason: str, **detail: Any) -> int:
    """Withdrawn for good: ``revoked``, its certificates revoked for ``crl_reason``. Returns how many."""
    _fire(card, "revoke", actor, {"crl_reason": crl_reason, **detail})
    _discard_pin_mailer(card, "revoke")
    _tell_relying_parties(card, "card.revoked", crl_reason)
    return pki_services.certificate_revoke(card=card, reason=crl_reason, actor=_who(actor, card, "revoke"))


def _tell_relying_parties(card: Card, event: str, crl_reason: str) -> None:
    """The subscribed relying parties' messages (notifications.webhooks), in the transition's transaction."""
    payload = card_payload(card, reason=crl_reason, at=timezone.now())
    webhooks_emit(event=event, card_key=card.number, payload=payload)


def _discard_pin_mailer(card: Card, transition: str) -> None:
    """A card that will never be used has no use for its codes: its sealed codes letters not yet printed (the
    PIN mailer, any re-issued codes letter) are purged in the transition's transaction (the rows stay, empty
    and never printed, with a CardEvent)."""
    purged = Mailer.objects.filter(
        card=card, kind__in=SECRET_KINDS, printed_at__isnull=True, content__isnull=False
    ).update(content=None)
    if purged:
        CardEvent.objects.create(card=card, kind="pin_mailer_discarded", detail={"transition": transition})


def _who(actor: Any, card: Card, transition: str) -> str:
    """Who asked, for the CA's audit trail: ``<role>:<account id> <transition> card <number>``."""
    return f"{role_of(actor) or 'system'}:{getattr(actor, 'pk', None) or '-'} {transition} card {card.number}"


def card_expire(*, card: Card, actor: Any, **detail: Any) -> Card:
    """Past its date: ``expired`` (its certificates end with it; nothing is revoked)."""
    return _fire(card, "expire", actor, detail)


def _fire(card: Card, name: str, actor: Any, detail: dict[str, Any]) -> Card:
    who = {"actor_id": getattr(actor, "pk", None), "actor_role": role_of(actor) or ""}

    def event(card: Card, name: str, from_state: str, reason: str) -> CardEvent:
        return CardEvent(card=card, kind=card.state, detail={"from": from_state, **who, **detail})

    fields = ("state", "updated_at")
    return fire(
        card,
        [name],
        actor=actor,
        event=event,
        fields=fields,
        invalid=InvalidCardState,
        concurrent=CardChanged,
    )


# --- codes: made at personalization, for the codes letter only ------------------------------------


def new_pin() -> str:
    return f"{secrets.randbelow(10_000):04d}"


def new_puk() -> str:
    return f"{secrets.randbelow(100_000_000):08d}"


# --- letters --------------------------------------------------------------------------------------


# The letters that carry a code (the PIN mailer: PIN and PUK; a re-issued codes letter: the PUK).
SECRET_KINDS = (Mailer.Kind.PIN, Mailer.Kind.CODES)


def pin_mailer_open(*, mailer: Mailer) -> bytes:
    """A codes letter's PDF in clear, for the print run only (it stays sealed in the database)."""
    if mailer.kind not in SECRET_KINDS or mailer.content is None:
        raise ValueError("this codes letter was printed and purged")
    return mailers.unseal(bytes(mailer.content))


def mailer_mark_printed(*, mailer: Mailer) -> None:
    """Printed: a codes letter's sealed content is purged for good (the carrier letter is kept)."""
    purge = {"content": None} if mailer.kind in SECRET_KINDS else {}
    Mailer.objects.filter(pk=mailer.pk).update(printed_at=timezone.now(), **purge)


def card_validity_years(card_type: str) -> int:
    return settings.CPX_CARD_VALIDITY_YEARS.get(card_type, 3)
