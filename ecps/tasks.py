"""Periodic e-CPS work: thin, the service is idempotent and works in chunks."""

from celery import shared_task

from . import services


@shared_task(name="ecps.revoke_inactive_holders", acks_late=True)
def revoke_inactive_holders() -> int:
    """Safety net: e-CPS of holders (or exercises) the registry marks inactive → revoked. Sign-in and
    tokens already refuse them at once; this makes it final and visible."""
    return services.ecps_revoke_for_inactive_holders()
