"""Periodic lifecycle work (scheduled in config/celery.py). Thin: each task calls one service, which is
idempotent and works in chunks, so a retried or overlapping run is harmless."""

from pathlib import Path

from celery import shared_task
from django.conf import settings

from . import printing, renewal, shipping, withdrawal


@shared_task(name="lifecycle.renewal_reminders", acks_late=True)
def renewal_reminders() -> dict[int, int]:
    return renewal.renewal_reminders_send()


@shared_task(name="lifecycle.expire_cards", acks_late=True)
def expire_cards() -> int:
    return withdrawal.cards_expire()


@shared_task(name="lifecycle.release_pin_mailers", acks_late=True)
def release_pin_mailers() -> int:
    return shipping.pin_mailers_release()


@shared_task(name="lifecycle.revoke_inactive_holders", acks_late=True)
def revoke_inactive_holders() -> int:
    """Safety net behind the registry import's own call after its merge."""
    return withdrawal.cards_revoke_for_inactive_holders()


@shared_task(name="lifecycle.print_pin_mailers", acks_late=True)
def print_pin_mailers() -> int:
    """Daily, after the release: the secure print run of the PIN mailers due (then purged)."""
    return printing.pin_mailers_print(out_dir=Path(settings.MEDIA_ROOT) / "pin_mailers").printed
