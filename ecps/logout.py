"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a provider session ends (the holder
signs out, or the e-CPS is revoked), each relying party that holds a session from it and registered a
``backchannel_logout_uri`` (``RelyingPartyProfile``) receives a signed logout token.

The ``ProviderSession`` rows are the outbox: ending a session stamps ``ended_at`` in the caller's
transaction; delivery is asked for on commit (``ecps.backchannel_logout``, retried with backoff), and a
periodic sweep (``ecps.backchannel_logout_sweep``) takes up whatever a broker outage left pending. A row
is delivered once: ``logout_sent_at`` is stamped only after the relying party answered 200."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterable

import requests
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from jwcrypto import jwt
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem

from core.tasks import send_task

from .models import ProviderSession

log = logging.getLogger(__name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TASK = "ecps.backchannel_logout"
TOKEN_LIFETIME_SECONDS = 120
TIMEOUT_SECONDS = 5
MAX_ATTEMPTS = 8
SWEEP_WINDOW = dt.timedelta(days=1)


class LogoutNotDelivered(Exception):
    """The relying party did not take the logout token (unreachable, or not 200): retried."""


def sessions_end(sessions: QuerySet[ProviderSession]) -> list[int]:
    """End these sessions (once: a session already ended is left alone) and send their logout tokens
    after the transaction commits. Returns the ids ended now."""
    ids = list(sessions.filter(ended_at__isnull=True).values_list("pk", flat=True))
    if ids:
        ProviderSession.objects.filter(pk__in=ids, ended_at__isnull=True).update(ended_at=timezone.now())
        transaction.on_commit(lambda: _ask_delivery(ids))
    return ids


def sessions_end_for_sid(sid: str) -> list[int]:
    """The holder signed out of the provider in the browser whose provider session is ``sid``."""
    return sessions_end(ProviderSession.objects.filter(sid=sid)) if sid else []


def sessions_end_for_ecps(ecps_ids: Iterable[int]) -> list[int]:
    """Every session an e-CPS opened (it is revoked)."""
    return sessions_end(ProviderSession.objects.filter(ecps_id__in=list(ecps_ids)))


def _ask_delivery(ids: list[int]) -> None:
    for pk in ids:
        try:
            send_task(TASK, pk)
        except Exception:  # noqa: BLE001 - broker down: the sweep delivers the row later
            log.warning("back-channel logout %s: not queued, left to the sweep", pk, exc_info=True)


def logout_token(session: ProviderSession) -> str:
    """The logout token of a session: a JWT signed with the provider's ID token key (RS256, its JWKS
    ``kid``), typed ``logout+jwt``, with ``iss``, ``aud``, ``iat``, ``exp``, ``jti``, ``events``,
    ``sub`` and ``sid``, and never a ``nonce`` (Back-Channel Logout 1.0 §2.4)."""
    key = jwk_from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY)
    now = int(time.time())
    claims = {
        "iss": session.issuer,
        "aud": session.application.client_id,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECONDS,
        "jti": str(uuid.uuid4()),
        "events": {EVENT: {}},
        "sub": session.ecps.holder.national_id,
        "sid": session.sid,
    }
    token = jwt.JWT(header={"alg": "RS256", "typ": "logout+jwt", "kid": key.thumbprint()}, claims=claims)
    token.make_signed_token(key)
    return str(token.serialize())


def backchannel_logout_deliver(*, session_id: int) -> bool:
    """POST the logout token of an ended session to its relying party. True once delivered (or when there
    is nothing to deliver); raises ``LogoutNotDelivered`` for the task to retry."""
    session = (
        ProviderSession.objects.select_related("application__ecps_profile", "ecps__holder")
        .filter(pk=session_id, ended_at__isnull=False, logout_sent_at__isnull=True)
        .first()
    )
    uri = _logout_uri(session)
    if session is None or not uri:
        return True
    ProviderSession.objects.filter(pk=session.pk).update(logout_attempts=F("logout_attempts") + 1)
    try:
        response = requests.post(
            uri, data={"logout_token": logout_token(session)}, timeout=TIMEOUT_SECONDS, allow_redirects=False
        )
    except requests.RequestException as exc:
        return _failed(session, type(exc).__name__)
    if response.status_code != 200:
        return _failed(session, f"HTTP {response.status_code}")
    ProviderSession.objects.filter(pk=session.pk).update(logout_sent_at=timezone.now(), logout_error="")
    return True


def _logout_uri(session: ProviderSession | None) -> str:
    profile = getattr(session.application, "ecps_profile", None) if session else None
    return profile.backchannel_logout_uri if profile else ""


def _failed(session: ProviderSession, error: str) -> bool:
    ProviderSession.objects.filter(pk=session.pk).update(logout_error=error[:200])
    log.info(
        "back-channel logout of session %s to client %s failed: %s", session.pk, session.application_id, error
    )
    raise LogoutNotDelivered(error)


def backchannel_logout_sweep() -> int:
    """Ask again for the delivery of logout tokens still pending (ended within a day, attempts left)."""
    pending = list(
        ProviderSession.objects.filter(
            ended_at__gte=timezone.now() - SWEEP_WINDOW,
            logout_sent_at__isnull=True,
            logout_attempts__lt=MAX_ATTEMPTS,
            application__ecps_profile__backchannel_logout_uri__gt="",
        ).values_list("pk", flat=True)
    )
    _ask_delivery(pending)
    return len(pending)
