"""Domain errors of the order workflow, each a ``core.errors`` error with its own code and HTTP status.

The API answers them in one place (``core.api.api_exception_handler``: ``exc.status`` and ``exc.body()``),
the web pages in another (``core.web.DomainErrorMiddleware``). What an answer carries beyond ``code`` and
``message`` is given when the error is raised: the failed rules of ``NotEligible`` (``reasons``), the field
at fault of ``InvalidOrder`` (``fields``), the order's current ``state`` and ``allowed_transitions`` of a
conflict (added by ``orders.services``, which knows the order).

| error | code | status |
|---|---|---|
| ``OrderNotFound`` | not_found | 404 |
| ``StructureNotFound`` | not_found | 404 |
| ``NotPermitted`` (core) | not_permitted | 403 |
| ``InvalidTransition`` (core) | invalid_transition | 409 |
| ``OrderChanged`` (a ``ConcurrentUpdate``) | conflict | 409 |
| ``OrderRerouted`` (a ``ConcurrentUpdate``) | rerouted | 409 |
| ``OpenOrderExists`` (a ``NotEligible`` and a ``ConcurrentUpdate``) | open_order_exists | 409 |
| ``NotEligible`` | not_eligible | 422 |
| ``InvalidOrder`` (an ``InvalidInput``) | invalid | 400 |
| ``PaymentRefused`` | payment_refused | 400 |
| ``OnlinePaymentOff`` (a ``PaymentRefused``) | online_payment_unavailable | 404 |
| ``InvoiceIsPdf`` | not_acceptable | 406 |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from core.errors import ConcurrentUpdate, DomainError, InvalidInput, InvalidTransition, NotFound, NotPermitted

__all__ = [
    "ConcurrentUpdate",
    "InvalidOrder",
    "InvalidTransition",
    "InvoiceIsPdf",
    "NotEligible",
    "NotPermitted",
    "OpenOrderExists",
    "OrderChanged",
    "OrderNotFound",
    "OrderRerouted",
    "OnlinePaymentOff",
    "PaymentRefused",
    "Reason",
    "StructureNotFound",
]


class OrderNotFound(NotFound):
    """The actor may not see this order (or it does not exist): the two are indistinguishable on purpose."""

    default_message = _("No such order.")


class StructureNotFound(NotFound):
    """A structure the actor may not name in an order (a holder's structure they do not work in) is one
    that does not exist: the API answers both alike (``core.api.validate_or_404``)."""

    default_message = _("A referenced object does not exist.")

    def __init__(self) -> None:
        super().__init__(fields={"structure": [str(_("No such structure."))]})


class OrderChanged(ConcurrentUpdate):
    """Someone else changed the order between its reading and its writing."""

    default_message = _("The order was changed by someone else at the same time; reload it and retry.")


class OrderRerouted(ConcurrentUpdate):
    """At approval the registry sent the order to another authority (ADELI→RPPS switch): it moved queue."""

    code = "rerouted"
    default_message = _("The order now belongs to another authority and has moved to its queue.")


@dataclass(frozen=True)
class Reason:
    """One failed eligibility rule."""

    code: str
    message: str


class NotEligible(DomainError):
    code = "not_eligible"
    status = 422
    default_message = _("The order does not meet the eligibility rules.")

    def __init__(self, reasons: list[Reason]) -> None:
        self.reasons = reasons
        body = [{"code": r.code, "message": r.message} for r in reasons]
        super().__init__("; ".join(r.message for r in reasons) or None, reasons=body)


class OpenOrderExists(NotEligible, ConcurrentUpdate):
    """Another order of the same slot is under way: a duplicate, so a conflict (409), whether the rule saw
    it (``open_order_exists``) or the database refused the second of two racing submissions."""

    code = "open_order_exists"
    status = 409
    default_message = _("Another order for this card is already in progress.")

    @classmethod
    def raced(cls) -> OpenOrderExists:
        message = str(cls.default_message)
        return cls([Reason("open_order_exists", message)])


class InvalidOrder(InvalidInput):
    """Input that is inconsistent with the registry (an exercise of someone else, a missing reason...)."""

    def __init__(self, message: Any, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.extra.setdefault("fields", {"non_field_errors": [self.message]})


class PaymentRefused(DomainError):
    code = "payment_refused"
    status = 400
    default_message = _("The payment could not be recorded.")


class OnlinePaymentOff(PaymentRefused):
    """This deployment has no payment provider (``CPX_PAYMENT_PROVIDER`` empty): online payment is not
    offered at all, so its operations are not found, whatever the order."""

    code = "online_payment_unavailable"
    status = 404
    default_message = _("Online payment is not available; pay by transfer or cheque.")


class InvoiceIsPdf(DomainError):
    """An invoice is a PDF only: asked for in another format (``?format=json``, ``Accept: application/json``
    alone), it is refused rather than answered as a PDF the client did not ask for."""

    code = "not_acceptable"
    status = 406
    default_message = _("An invoice is a PDF document only: ask for application/pdf.")
