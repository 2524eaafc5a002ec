"""Periodic approval work (scheduled in config/celery.py): thin, idempotent."""

from celery import shared_task

from . import services


@shared_task(name="approvals.expire_overdue", acks_late=True)
def expire_overdue() -> int:
    """Pending requests past their expiry → expired (decide also expires one lazily when tried)."""
    return services.expire_overdue()
