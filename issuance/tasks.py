"""Celery tasks of issuance: thin, idempotent, taking ids. Each runs on the station's own queue."""

import logging

from celery import shared_task

from . import personalization, services
from .models import ReaderStation

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=60, default_retry_delay=60)
def personalize(self, order_id: int, station_name: str) -> int | None:
    """Personalize the order's card on this station (queue ``station.<name>``). A rerun after a crash
    recovers the interrupted attempt; a card already made is returned as is."""
    station = ReaderStation.objects.get(name=station_name)
    try:
        card = personalization.personalize_order(order_id=order_id, station=station)
    except personalization.NoBlankCard:
        log.warning("station %s has no blank card for order %s: retrying later", station_name, order_id)
        raise self.retry() from None
    return card.pk if card else None


@shared_task
def heartbeat(station_name: str) -> None:
    services.station_heartbeat(station=ReaderStation.objects.get(name=station_name))
