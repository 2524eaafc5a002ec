"""Domain errors of the e-CPS: a stable ``code`` for programs, a ``message`` for people, one HTTP status."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class EcpsError(Exception):
    code = "ecps_error"
    status = 400
    default_message = _("The e-CPS request could not be processed.")

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = str(message or self.default_message)
        if code:
            self.code = code
        super().__init__(self.message)


class NotFound(EcpsError):
    code = "not_found"
    status = 404
    default_message = _("No such e-CPS.")


class NotPermitted(EcpsError):
    code = "not_permitted"
    status = 403
    default_message = _("You are not allowed to do this.")


class ActivationRefused(EcpsError):
    """The activation cannot start or go on (ADELI holder on the codes path, card not active, ...)."""

    code = "activation_refused"
    status = 409


class ProofRejected(EcpsError):
    """A wrong code or signature: the activation stays open until its attempts run out."""

    code = "proof_rejected"
    status = 400


class InvalidState(EcpsError):
    code = "invalid_state"
    status = 409


class SignInRefused(EcpsError):
    code = "sign_in_refused"
    status = 403
    default_message = _("Sign-in refused.")
