"""Sign-in with an e-CPS at the OpenID Connect provider: a passkey assertion checked, then the registry, and
every attempt audited (``SignInEvent``) whatever its outcome; the platform user who stands for the holder
at the provider."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy
from oauth2_provider.models import get_application_model

from core.roles import Role
from registry.models import Account, Professional

from . import errors, passkeys
from .models import ECps, SignInEvent

log = logging.getLogger(__name__)

REFUSALS = {
    "unknown_credential": gettext_lazy("This passkey is not a known e-CPS."),
    "verification_failed": gettext_lazy("The e-CPS signature could not be verified."),
    "ecps_revoked": gettext_lazy("This e-CPS is revoked (opposition or striking off)."),
    "ecps_suspended": gettext_lazy("This e-CPS is suspended."),
    "holder_inactive": gettext_lazy("The registry no longer lists you as practising: sign-in refused."),
    "exercise_inactive": gettext_lazy(
        "The registry no longer lists this professional exercise: sign-in refused."
    ),
    "no_challenge": gettext_lazy("The sign-in expired: try again."),
}


def signin_options() -> tuple[dict[str, Any], str]:
    """Options for a discoverable-credential assertion (the phone offers the holder's e-CPS), with user
    verification required. Returns the options and the challenge to keep in the session."""
    return passkeys.authentication_options()


def signin_verify(
    *, credential: dict[str, Any], challenge: str, client_id: str = "", ip_address: str | None = None
) -> ECps:
    """Check an assertion of an e-CPS, then the registry; audit the attempt whatever its outcome."""
    ecps = (
        ECps.objects.select_related("holder", "exercise")
        .filter(credential_id=_credential_id(credential))
        .first()
    )
    reason = _signin_refusal(ecps, credential, challenge)
    event = SignInEvent(
        ecps=ecps,
        professional=ecps.holder if ecps else None,
        application=get_application_model().objects.filter(client_id=client_id).first()
        if client_id
        else None,
        client_id=client_id[:100],
        result=SignInEvent.Result.REFUSED if reason else SignInEvent.Result.SUCCESS,
        reason=reason or "",
        ip_address=ip_address,
    )
    event.save()
    if reason or ecps is None:
        raise errors.SignInRefused(
            str(REFUSALS.get(reason or "", REFUSALS["unknown_credential"])), code=reason
        )
    return ecps


def _credential_id(credential: dict[str, Any]) -> str:
    value = credential.get("id") or credential.get("rawId") or ""
    return value if isinstance(value, str) else ""


def _signin_refusal(ecps: ECps | None, credential: dict[str, Any], challenge: str) -> str | None:
    """The signature first (a bare credential id must not reveal an e-CPS's state), then the registry."""
    if ecps is None:
        return "unknown_credential"
    if not challenge:
        return "no_challenge"
    if not _assertion_valid(ecps, credential, challenge):
        return "verification_failed"
    if not ecps.holder.is_active:
        return "holder_inactive"
    if not ecps.exercise.is_active:
        return "exercise_inactive"
    if ecps.state != ECps.State.ACTIVE:
        return "ecps_revoked" if ecps.state == ECps.State.REVOKED else "ecps_suspended"
    return None


def _assertion_valid(ecps: ECps, credential: dict[str, Any], challenge: str) -> bool:
    try:
        verified = passkeys.verify_authentication(
            credential=credential,
            challenge=challenge,
            public_key=bytes(ecps.public_key),
            sign_count=ecps.sign_count,
        )
    except passkeys.PasskeyRejected as exc:
        log.info("e-CPS %s: assertion refused: %s", ecps.pk, exc)
        return False
    ECps.objects.filter(pk=ecps.pk).update(sign_count=verified.new_sign_count, last_used_at=timezone.now())
    return True


def signin_refused_at_consent(*, ecps_id: int | None, client_id: str, reason: str) -> None:
    ecps = ECps.objects.filter(pk=ecps_id).first() if ecps_id else None
    SignInEvent.objects.create(
        ecps=ecps,
        professional_id=ecps.holder_id if ecps else None,
        application=get_application_model().objects.filter(client_id=client_id).first(),
        client_id=client_id[:100],
        result=SignInEvent.Result.REFUSED,
        reason=reason,
    )


def holder_user(professional: Professional) -> Any:
    """The platform user who stands for the holder at the provider (their portal account, or a new one
    without a password: this one signs in only with the e-CPS)."""
    account = (
        Account.objects.filter(role=Role.HOLDER, professional=professional)
        .select_related("user")
        .order_by("pk")
    ).first()
    if account is not None:
        return account.user
    user = get_user_model().objects.create_user(username=f"ecps-{professional.national_id}", password=None)
    Account.objects.create(user=user, role=Role.HOLDER, professional=professional)
    return user


def sign_ins_of(*, professional: Professional, limit: int = 20) -> QuerySet[SignInEvent]:
    return SignInEvent.objects.filter(professional=professional).select_related("application")[:limit]
