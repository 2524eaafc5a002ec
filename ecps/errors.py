"""Domain errors of the e-CPS, on the platform's one base (``core.errors``): each keeps its own ``code`` and
HTTP status. Not found (404), not permitted (403) and invalid input (400, ``invalid``) are the platform's
own (``core.errors``)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from core import errors


class ActivationRefused(errors.DomainError):
    """The activation cannot start or go on (ADELI holder on the codes path, card not active, ...)."""

    code = "activation_refused"
    status = 409


class ProofRejected(errors.DomainError):
    """A wrong code or signature: the activation stays open until its attempts run out."""

    code = "proof_rejected"
    status = 400


class InvalidState(errors.DomainError):
    """The activation is closed or expired (its ``code`` says which)."""

    code = "invalid_state"
    status = 409


class InvalidTransition(errors.InvalidTransition):
    """The e-CPS's state does not allow this (suspending a suspended one, ...)."""

    code = "invalid_state"


class AlreadyRevoked(InvalidTransition):
    """A revoked e-CPS stays revoked: the only state the revocation cannot leave."""

    code = "already_revoked"

    def __init__(self, *, transition: str, state: str, allowed: list[str], message: Any = None) -> None:
        message = message or _("This e-CPS is already revoked.")
        super().__init__(transition=transition, state=state, allowed=allowed, message=message)


class SignInRefused(errors.DomainError):
    code = "sign_in_refused"
    status = 403
    default_message = _("Sign-in refused.")
