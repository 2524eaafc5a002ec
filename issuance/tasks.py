"""Celery tasks of issuance: thin, idempotent, taking ids. Each runs on the station's own queue."""

import logging

from celery import shared_task

from config.celery import app

from . import personalization, services
from .models import ReaderStation

log = logging.getLogger(__name__)
SWEEP_EVERY = 300.0  # seconds


@shared_task(bind=True, acks_late=True, max_retries=60, default_retry_delay=60)
def personalize(self, order_id: int, station_name: str) -> int | None:
    """Personalize the order's card on this station (queue ``station.<name>``). A rerun after a crash
    recovers the interrupted attempt; a card already made is returned as is."""
    station = ReaderStation.objects.get(name=station_name)
    try:
        card = personalization.personalize_order(order_id=order_id, station=station)
    except personalization.NoReaderFree:
        raise self.retry(countdown=5) from None
    except personalization.NoBlankCard:
        log.warning("station %s has no blank card for order %s: retrying later", station_name, order_id)
        raise self.retry() from None
    return card.pk if card else None


@shared_task
def production_sweep() -> int:
    """Every few minutes: queued orders that no station is working on go back to a station's queue."""
    return services.production_sweep()


@shared_task(name="issuance.print_pin_mailers")
def print_pin_mailers() -> int:
    """Daily, after the release: the secure print run of the PIN mailers due (then purged)."""
    from pathlib import Path

    from django.conf import settings

    from .printing import pin_mailers_print

    return pin_mailers_print(out_dir=Path(settings.MEDIA_ROOT) / "pin_mailers").printed


@app.on_after_finalize.connect
def schedule(sender, **kwargs) -> None:  # noqa: ANN001 - Celery's signal signature
    sender.add_periodic_task(SWEEP_EVERY, production_sweep.s(), name="issuance production sweep")
