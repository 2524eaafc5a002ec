"""Domain errors of the order workflow. Each has a stable ``code`` (for programs) and a ``message`` (for
people); the API maps each class to one HTTP status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _


class OrderError(Exception):
    code = "order_error"
    default_message = _("The order could not be processed.")

    def __init__(self, message: Any = None) -> None:
        self.message = str(message or self.default_message)
        super().__init__(self.message)


class OrderNotFound(OrderError):
    """The actor may not see this order (or it does not exist): the two are indistinguishable on purpose."""

    code = "not_found"
    default_message = _("No such order.")


class NotPermitted(OrderError):
    code = "not_permitted"
    default_message = _("You are not allowed to do this.")


class InvalidTransition(OrderError):
    code = "invalid_transition"

    def __init__(self, *, transition: str, state: str, allowed: list[str]) -> None:
        self.transition = transition
        self.state = state
        self.allowed = allowed
        super().__init__(
            _("Transition “%(transition)s” is not possible from state “%(state)s”.")
            % {"transition": transition, "state": state}
        )


class ConcurrentUpdate(OrderError):
    code = "conflict"
    default_message = _("The order was changed by someone else at the same time; reload it and retry.")


@dataclass(frozen=True)
class Reason:
    """One failed eligibility rule."""

    code: str
    message: str


class NotEligible(OrderError):
    code = "not_eligible"
    default_message = _("The order does not meet the eligibility rules.")

    def __init__(self, reasons: list[Reason]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(r.message for r in reasons) or None)


class InvalidOrder(OrderError):
    """Input that is inconsistent with the registry (an exercise of someone else, a missing reason...)."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class PaymentRefused(OrderError):
    code = "payment_refused"
    default_message = _("The payment could not be recorded.")


class OrderRerouted(OrderError):
    """At approval the registry sent the order to another authority (ADELI→RPPS switch): it moved queue."""

    code = "rerouted"
    default_message = _("The order now belongs to another authority and has moved to its queue.")
