"""Shipping: cards handed to the carrier in batches, and their PIN mailers released a day later.

A batch is recorded in one transaction: each card is shipped through its card service (``cards.services``,
which checks who may ship and from which state and writes the card's history), its shipment recorded
with the day its PIN mailer may go, and its holder told. The PIN mailer follows separately, so that one
stolen envelope never holds both the card and its codes. The order is done with at ``produced``: the
card's state is what shows it is on its way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cards import services as card_services
from cards.errors import CardNotFound
from cards.models import Card, CardEvent
from core.errors import InvalidInput, NotPermitted
from core.roles import PRODUCTION_WATCHERS, role_of
from notifications.events import Event

from .errors import BatchExists, BatchNotFound
from .models import Shipment, ShippingBatch
from .telling import tell_holder


@dataclass(frozen=True)
class ShipmentLine:
    card_id: int
    tracking_reference: str


# --- who reads the batches --------------------------------------------------------------------------


def shipping_batches_visible_to(actor: Any) -> QuerySet[ShippingBatch]:
    """Every batch with its shipments, for those who run or watch production (ANS, the auditor, the
    platform); anyone else is not permitted (batches list every holder's card)."""
    if role_of(actor) not in PRODUCTION_WATCHERS:
        raise NotPermitted(_("Shipping batches are kept by ANS operators."))
    return ShippingBatch.objects.prefetch_related("shipments__card")


def shipping_batch_for(*, actor: Any, batch_id: int) -> ShippingBatch:
    batch = shipping_batches_visible_to(actor).filter(pk=batch_id).first()
    if batch is None:
        raise BatchNotFound()
    return batch


# --- recording a batch ------------------------------------------------------------------------------


def shipping_batch_create(
    *, actor: Any, carrier: str, reference: str, lines: Sequence[ShipmentLine]
) -> ShippingBatch:
    """Record cards handed to the carrier: each card → ``shipped``, the holder told, and the PIN mailer's
    release set ``CPX_PIN_MAILER_DELAY_DAYS`` later (never in the same post). All or nothing."""
    shipping_check(actor=actor)
    _check_lines(carrier, reference, lines)
    release_on = timezone.localdate() + dt.timedelta(days=settings.CPX_PIN_MAILER_DELAY_DAYS)
    try:
        with transaction.atomic():
            if ShippingBatch.objects.filter(reference=reference).exists():
                raise BatchExists(reference)
            batch = ShippingBatch.objects.create(carrier=carrier, reference=reference, created_by=actor)
            for line in sorted(lines, key=lambda line: line.card_id):  # one lock order: no deadlocks
                _ship_card(batch, line, release_on, actor)
    except IntegrityError:
        # The same reference recorded at the same moment: the unique reference stopped the second.
        raise BatchExists(reference) from None
    return batch


def shipping_check(*, actor: Any) -> None:
    """Whether ``actor`` may record shipments at all (ANS, the platform), before anything they send is
    read."""
    if not card_services.card_may("ship", actor):
        raise NotPermitted(_("Only ANS operators record shipments."))


def _check_lines(carrier: str, reference: str, lines: Sequence[ShipmentLine]) -> None:
    if not carrier.strip() or not reference.strip():
        raise InvalidInput(_("A shipment needs its carrier and batch reference."))
    if not lines:
        raise InvalidInput(_("A shipment holds at least one card."))
    ids = [line.card_id for line in lines]
    if len(set(ids)) != len(ids):
        raise InvalidInput(_("A card appears twice in the batch."))
    if any(not line.tracking_reference.strip() for line in lines):
        raise InvalidInput(_("Every card needs its tracking reference."))


def _ship_card(batch: ShippingBatch, line: ShipmentLine, release_on: dt.date, actor: Any) -> None:
    # Shipping is production logistics, run by ANS for every card whoever reviewed its order: the ship
    # permission is the scope (cards.scoping limits ANS operators' *review* to ADELI and structures).
    try:
        card = card_services.card_lock(line.card_id)
    except Card.DoesNotExist:
        raise CardNotFound(_("No such card: %(id)s.") % {"id": line.card_id}) from None
    card_services.card_ship(card=card, actor=actor, batch=batch.reference, tracking=line.tracking_reference)
    Shipment.objects.create(
        batch=batch, card=card, tracking_reference=line.tracking_reference, pin_release_on=release_on
    )
    tell_holder(
        card,
        Event.CARD_SHIPPED,
        key=f"card_shipped:{card.pk}",
        tracking_reference=line.tracking_reference,
    )


# --- the PIN mailers, a day later -------------------------------------------------------------------


def pin_mailers_release(*, today: dt.date | None = None, chunk: int = 500) -> int:
    """Release the PIN mailers whose day has come (the day after their card left): the holder is told.

    Claimed by a conditional UPDATE per chunk, so two runs never release one twice."""
    today = today or timezone.localdate()
    released = 0
    while True:
        with transaction.atomic():
            ids = list(
                Shipment.objects.select_for_update(skip_locked=True)
                .filter(pin_released_at__isnull=True, pin_release_on__lte=today)
                .order_by("pin_release_on", "pk")
                .values_list("pk", flat=True)[:chunk]
            )
            shipments = Shipment.objects.filter(pk__in=ids).select_related("card__professional")
            for shipment in shipments:
                _release_pin_mailer(shipment)
        released += len(ids)
        if len(ids) < chunk:
            return released


def _release_pin_mailer(shipment: Shipment) -> None:
    shipment.pin_released_at = timezone.now()
    shipment.save(update_fields=["pin_released_at"])
    card = shipment.card
    CardEvent.objects.create(card=card, kind="pin_mailer_sent", detail={"shipment": shipment.pk})
    tell_holder(card, Event.PIN_MAILER_SENT, key=f"pin_mailer_sent:{card.pk}")
