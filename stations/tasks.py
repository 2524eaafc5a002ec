"""Celery tasks of the stations: thin, idempotent, taking ids.

``stations.schedule_production`` is how orders (a lower layer) hand over a queued order: sent by name on
commit. ``stations.personalize`` runs on the chosen station's own queue (the services send it by name, so
they never import this module). The sweep is scheduled in config/celery.py. ``signing.certify_card`` runs
in the signing service (queue settings.CPX_SIGNING_QUEUE, by CELERY_TASK_ROUTES): stations send it through
``core.tasks.run_signing_task``.
"""

import logging

from celery import shared_task

from . import certification, personalization, services
from .models import ReaderStation

log = logging.getLogger(__name__)


@shared_task(name="stations.schedule_production", acks_late=True)
def schedule_production(order_id: int) -> None:
    """An order reached ``queued``: hand it to a station's queue (or leave it to the sweep)."""
    services.production_schedule(order_id=order_id)


@shared_task(
    name=services.PERSONALIZE_TASK, bind=True, acks_late=True, max_retries=60, default_retry_delay=60
)
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


@shared_task(name="stations.production_sweep")
def production_sweep() -> int:
    """Every few minutes: queued orders that no station is working on go back to a station's queue."""
    return services.production_sweep()


@shared_task(name="signing.certify_card", acks_late=True)
def certify_card(envelope: dict) -> dict:
    """A station's signing request (stations.signing_request): checked, then certified or refused, and
    audited either way. Runs only in the signing service (the process with the CA token)."""
    return certification.certify_card(envelope)
