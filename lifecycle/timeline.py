"""One timeline per order, read-only: what happened to the order and to the card made for it, and what is
still to come, in the order a holder lives it.

Assembled from the rows each step already writes: the order's events (``OrderEvent``), the card's shipment
(``Shipment``, with the day its codes letter may leave: ``CPX_PIN_MAILER_DELAY_DAYS`` after the card, never in
the same post), the card's own history (``CardEvent``: activated, blocked, withdrawn, codes letters printed)
and the day from which the card may be declared not received (``CPX_NOT_RECEIVED_DAYS`` after it left, the
rule of ``lifecycle.opposition``). Nothing here writes; the template says each entry in words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from cards.models import Card, CardEvent
from orders.models import Order, OrderEvent

from .models import Shipment


class Kind:
    """What an entry tells (the template's switch)."""

    ORDER = "order"  # an order event: ``event``
    SHIPPED = "shipped"  # the card handed to the carrier: ``carrier``, ``reference``
    CODES_LETTER = "codes_letter"  # the codes letter leaves (or left) on its own
    CODES_REISSUED = "codes_reissued"  # a codes letter printed again, on request
    ACTIVATED = "activated"
    BLOCKED = "blocked"  # opposed
    WITHDRAWN = "withdrawn"  # revoked
    EXPIRED = "expired"
    NOT_RECEIVED_FROM = "not_received_from"  # from this day the card may be declared not received


# The card's own history entries that the order's timeline shows (the rest is the card page's business).
CARD_EVENT_KINDS = {
    Card.State.ACTIVE: Kind.ACTIVATED,
    Card.State.OPPOSED: Kind.BLOCKED,
    Card.State.REVOKED: Kind.WITHDRAWN,
    Card.State.EXPIRED: Kind.EXPIRED,
    "codes_letter_printed": Kind.CODES_REISSUED,
}


@dataclass(frozen=True)
class Entry:
    """One line of the timeline. ``at`` is a moment (``date_only``: a day, for what is planned by day);
    ``upcoming`` says it has not happened yet."""

    at: dt.datetime
    kind: str
    upcoming: bool = False
    date_only: bool = False
    event: OrderEvent | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def day(self) -> dt.date:
        return timezone.localtime(self.at).date()


def order_timeline(*, order: Order, now: dt.datetime | None = None) -> list[Entry]:
    """Every entry of ``order``'s timeline, oldest first (the planned ones last, by their day)."""
    now = now or timezone.now()
    entries = [Entry(at=event.at, kind=Kind.ORDER, event=event) for event in order_events(order)]
    card = order.produced_card
    if card is not None:
        entries += card_entries(card, now)
    return sorted(entries, key=lambda entry: (entry.at, entry.upcoming))


def order_events(order: Order) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order=order).select_related("actor").order_by("at", "id"))


def card_entries(card: Card, now: dt.datetime) -> list[Entry]:
    shipment = Shipment.objects.filter(card=card).select_related("batch").first()
    entries = [history_entry(row) for row in card_history(card)]
    if shipment is not None:
        entries += shipment_entries(card, shipment, now)
    return entries


def card_history(card: Card) -> list[CardEvent]:
    return list(CardEvent.objects.filter(card=card, kind__in=CARD_EVENT_KINDS).order_by("at", "id"))


def history_entry(row: CardEvent) -> Entry:
    return Entry(at=row.at, kind=CARD_EVENT_KINDS[row.kind], details={"card": row.card_id})


def shipment_entries(card: Card, shipment: Shipment, now: dt.datetime) -> list[Entry]:
    shipped = Entry(
        at=shipment.batch.shipped_at,
        kind=Kind.SHIPPED,
        details={"carrier": shipment.batch.carrier, "tracking_reference": shipment.tracking_reference},
    )
    entries = [shipped, codes_letter_entry(card, shipment)]
    declarable = not_received_entry(card, shipment, now)
    return entries + ([declarable] if declarable else [])


def codes_letter_entry(card: Card, shipment: Shipment) -> Entry:
    """The codes letter left when it was released; until then, it leaves on its planned day (a card blocked
    before has its letter destroyed: nothing is planned any more)."""
    if shipment.pin_released_at is not None:
        return Entry(at=shipment.pin_released_at, kind=Kind.CODES_LETTER)
    cancelled = card.state not in Card.LIVE_STATES
    return Entry(
        at=start_of(shipment.pin_release_on),
        kind=Kind.CODES_LETTER,
        upcoming=True,
        date_only=True,
        details={"cancelled": cancelled},
    )


def not_received_day(shipment: Shipment) -> dt.datetime:
    """From when a shipped card may be declared not received (``lifecycle.opposition``'s rule)."""
    return shipment.batch.shipped_at + dt.timedelta(days=settings.CPX_NOT_RECEIVED_DAYS)


def not_received_entry(card: Card, shipment: Shipment, now: dt.datetime) -> Entry | None:
    """Only while the card is on its way (shipped, not yet activated): then non-receipt may be declared."""
    if card.state != Card.State.SHIPPED:
        return None
    at = not_received_day(shipment)
    return Entry(
        at=at, kind=Kind.NOT_RECEIVED_FROM, upcoming=at > now, date_only=True, details={"card": card.pk}
    )


def start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
