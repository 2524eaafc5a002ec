"""Periodic lifecycle work (scheduled in config/celery.py). Thin: each task calls one service, which is
idempotent and works in chunks, so a retried or overlapping run is harmless."""

from pathlib import Path

from celery import shared_task
from django.conf import settings

from . import codes, helpdesk, printing, renewal, renewal_orders, scheduling, shipping, withdrawal


@shared_task(name="lifecycle.renewal_reminders", acks_late=True)
def renewal_reminders() -> dict[int, int]:
    return renewal.renewal_reminders_send()


@shared_task(name="lifecycle.renewal_orders", acks_late=True)
def place_renewal_orders() -> int:
    """Daily, before the reminders: the renewals the issuance policies order (issue 16)."""
    return renewal_orders.renewal_orders_place()


@shared_task(name="lifecycle.release_plan", acks_late=True)
def release_plan() -> dict[str, int]:
    """Daily: each approved automatic order given its day of release under the stations' capacity."""
    plan = scheduling.release_plan()
    return {"orders": plan.orders, "changed": plan.changed, "late": plan.late, "per_day": plan.per_day}


@shared_task(name="lifecycle.release_due", acks_late=True)
def release_due() -> int:
    """Daily, after the plan: the automatic orders whose day has come, queued for production."""
    return scheduling.orders_release_due()


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


# --- codes (lifecycle.codes, lifecycle.helpdesk) --------------------------------------------------
# The first two run in the signing service (the "signing.*" tasks go to its queue): the only process,
# besides the stations, that opens the unblock token. Their arguments and results are ids, never a code.


@shared_task(name="signing.codes_letter", acks_late=True)
def codes_letter(reissue_id: int) -> int | None:
    """An approved codes re-issue: the letter with the PUK derived again, sealed for the print run."""
    return codes.codes_letter_produce(reissue_id=reissue_id)


@shared_task(name="signing.unblock_response", acks_late=True)
def unblock_response(unblock_request_id: int) -> bool:
    """An approved help-desk unblock: its response computed and sealed for the requesting operator."""
    return helpdesk.unblock_response_compute(unblock_request_id=unblock_request_id)


@shared_task(name="lifecycle.codes_sweep", acks_late=True)
def codes_sweep() -> dict[str, int]:
    """Every 5 minutes: unseen help-desk responses purged, approved work the signing service missed sent
    again."""
    return {**codes.codes_sweep(), **helpdesk.helpdesk_sweep()}
