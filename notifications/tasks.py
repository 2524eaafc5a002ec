"""Celery tasks of the outbox: thin wrappers that take ids and call the services (safe to run twice)."""

from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from . import services, webhooks


@shared_task(name=services.DELIVER_TASK, ignore_result=True)
def deliver(notification_id: int) -> bool:
    # No Celery retry here: a failure is recorded on the row with its back-off, and the sweep retries it.
    return services.notification_deliver(notification_id=notification_id)


@shared_task(name="notifications.sweep", ignore_result=True)
def sweep() -> int:
    return services.notifications_sweep()


@shared_task(name="notifications.print_batch", ignore_result=True)
def print_batch(day: str | None = None) -> int:
    """Build the print batch of ``day`` (ISO date), by default yesterday's: the task runs after midnight."""
    when = date.fromisoformat(day) if day else timezone.localdate() - timedelta(days=1)
    return services.print_batch_build(day=when).pk


# --- webhooks (notifications.webhooks) ---


@shared_task(name=webhooks.DELIVER_TASK, ignore_result=True)
def webhooks_deliver(delivery_ids: list[int]) -> int:
    # Those not due, held back behind an earlier message of their card, or claimed by another worker are
    # skipped: the sweep (or the successor kick) takes them in their turn.
    return webhooks.deliveries_send(delivery_ids=delivery_ids)


@shared_task(name=webhooks.SWEEP_TASK, ignore_result=True)
def webhooks_sweep() -> int:
    return webhooks.webhooks_sweep()
