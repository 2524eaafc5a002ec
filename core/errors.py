"""The one base of the platform's domain errors, and the errors every app raises alike.

A ``DomainError`` carries a stable ``code`` (for programs), a ``message`` (for people), the HTTP ``status``
it answers with, and any ``extra`` fields of its answer. The API answers it in one place
(``core.api.api_exception_handler``), the web views in another (``core.web.DomainErrorMiddleware``), so
services raise and never think about HTTP.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "error"
    status = 400
    default_message: Any = _("The request could not be processed.")

    def __init__(self, message: Any = None, *, code: str | None = None, **extra: Any) -> None:
        self.message = str(message or self.default_message)
        if code:
            self.code = code
        self.extra = extra
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The JSON answer: ``{"code", "message"}`` and this error's extra fields."""
        return {"code": self.code, "message": self.message, **self.extra}


class NotFound(DomainError):
    """The actor may not see this object (or it does not exist): the two are indistinguishable on purpose."""

    code = "not_found"
    status = 404
    default_message = _("Not found.")


class NotPermitted(DomainError):
    code = "not_permitted"
    status = 403
    default_message = _("You are not allowed to do this.")


class InvalidInput(DomainError):
    """Input that breaks a rule; ``field`` names the input at fault, when there is one."""

    code = "invalid"
    status = 400

    def __init__(self, message: Any = None, *, field: str | None = None, **extra: Any) -> None:
        self.field = field
        super().__init__(message, **extra)
        if field:
            self.extra.setdefault("fields", {field: [self.message]})


class InvalidTransition(DomainError):
    """The state machine does not allow this transition from the object's current state."""

    code = "invalid_transition"
    status = 409

    def __init__(self, *, transition: str, state: str, allowed: list[str], message: Any = None) -> None:
        self.transition, self.state, self.allowed = transition, state, allowed
        message = message or _("Transition “%(transition)s” is not possible from state “%(state)s”.") % {
            "transition": transition,
            "state": state,
        }
        super().__init__(message, state=state, allowed_transitions=allowed)


class ConcurrentUpdate(DomainError):
    code = "conflict"
    status = 409
    default_message = _("This was changed by someone else at the same time; reload it and retry.")
