"""Use cases of a card: its PIN counter, its letters and its validity.

The card's state machine (``cards.models.Card``) is fired only here and from the card services of the
apps above through ``core.transitions.fire``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import mailers
from .models import Card, CardEvent, Mailer

PIN_TRIES = 3


class PinBlocked(Exception):
    """Three wrong PINs in a row: only the PUK unblocks the card."""


# --- the platform's PIN counter --------------------------------------------------------------------


def _pin_event(card: Card, kind: str, **detail: object) -> None:
    CardEvent.objects.create(card=card, kind=kind, detail=detail)


def card_pin_check(*, card: Card, login: Callable[[Card], bool]) -> bool:
    """Count one PIN check (``login`` tries the PIN on the card itself). The platform counts failures
    (SoftHSM2 and some middleware do not): three in a row block the card until the PUK resets the PIN. A
    correct PIN resets the count."""
    with transaction.atomic():
        card = Card.objects.select_for_update().get(pk=card.pk)
        if card.pin_blocked_at is not None:
            raise PinBlocked(card.number)
        ok = login(card)
        card.pin_failures = 0 if ok else card.pin_failures + 1
        if card.pin_failures >= PIN_TRIES:
            card.pin_blocked_at = timezone.now()
        card.save(update_fields=["pin_failures", "pin_blocked_at", "updated_at"])
        _pin_event(card, "pin_ok" if ok else "pin_failed", failures=card.pin_failures)
        if card.pin_blocked_at:
            _pin_event(card, "pin_blocked")
    return ok


def card_pin_reset(*, card: Card, new_pin: str, reset: Callable[[Card], bool]) -> bool:
    """The PUK (security officer PIN) sets a new PIN (``reset`` does it on the card, C_InitPIN) and clears
    the failure count."""
    if not (new_pin.isdigit() and len(new_pin) == 4):
        raise ValueError("a PIN is 4 digits")
    with transaction.atomic():
        card = Card.objects.select_for_update().get(pk=card.pk)
        ok = reset(card)
        if ok:
            card.pin_failures, card.pin_blocked_at = 0, None
            card.save(update_fields=["pin_failures", "pin_blocked_at", "updated_at"])
        _pin_event(card, "pin_unblocked" if ok else "puk_failed")
    return ok


def new_pin() -> str:
    return f"{secrets.randbelow(10_000):04d}"


def new_puk() -> str:
    return f"{secrets.randbelow(100_000_000):08d}"


# --- letters --------------------------------------------------------------------------------------


def pin_mailer_open(*, mailer: Mailer) -> bytes:
    """The PIN mailer's PDF in clear, for the print run only (it stays sealed in the database)."""
    if mailer.kind != Mailer.Kind.PIN or mailer.content is None:
        raise ValueError("this PIN mailer was printed and purged")
    return mailers.unseal(bytes(mailer.content))


def mailer_mark_printed(*, mailer: Mailer) -> None:
    """Printed: the PIN mailer's sealed content is purged for good (the carrier letter is kept)."""
    purge = {"content": None} if mailer.kind == Mailer.Kind.PIN else {}
    Mailer.objects.filter(pk=mailer.pk).update(printed_at=timezone.now(), **purge)


def card_validity_years(card_type: str) -> int:
    return settings.CPX_CARD_VALIDITY_YEARS.get(card_type, 3)
