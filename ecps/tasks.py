"""e-CPS work done away from the request: thin, each service is idempotent and safe to retry."""

from celery import shared_task

from . import logout, services


@shared_task(name="ecps.revoke_inactive_holders", acks_late=True)
def revoke_inactive_holders() -> int:
    """Safety net: e-CPS of holders (or exercises) the registry marks inactive → revoked. Sign-in and
    tokens already refuse them at once; this makes it final and visible."""
    return services.ecps_revoke_for_inactive_holders()


@shared_task(
    name=logout.TASK,
    acks_late=True,
    autoretry_for=(logout.LogoutNotDelivered,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=logout.MAX_ATTEMPTS - 1,
)
def backchannel_logout(session_id: int) -> bool:
    """Send one ended provider session's logout token to its relying party (retried with backoff)."""
    return logout.backchannel_logout_deliver(session_id=session_id)


@shared_task(name="ecps.backchannel_logout_sweep", acks_late=True)
def backchannel_logout_sweep() -> int:
    return logout.backchannel_logout_sweep()
