"""Use cases of an order's payment: recording it (an operator's transfer or cheque), paying online.

They take the path of every order transition (``orders.services``: the order locked in the actor's scope,
``core.transitions.fire``, the events, production scheduled on commit). The providers themselves and the
tariff are ``orders.payments``.

Who records what is decided here, for every entry point (the back office, the API): operators record
transfers and cheques (``OPERATOR_METHODS``); an online payment is recorded only by the platform, once
the provider confirmed it (``payment_confirm_online``); it is started by the holder's side.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.formats import format_money
from core.roles import HOLDER_SIDE, Role, role_of
from core.transitions import Step, allowed, check

from .errors import (
    InvalidOrder,
    InvalidTransition,
    NotPermitted,
    OnlinePaymentOff,
    OrderNotFound,
    PaymentRefused,
)
from .models import Order, Payment
from .payments import Checkout, Confirmation, PaymentProvider, SignedReturns, configured_provider
from .scoping import orders_visible_to
from .services import User, _fire, _lock, _pk, system_user, tells_current_state

# The methods an operator records by hand; the platform records online payments too.
OPERATOR_METHODS = (Payment.Method.TRANSFER, Payment.Method.CHEQUE)


def methods_for(actor: User) -> tuple[str, ...]:
    """The payment methods ``actor`` may record."""
    return tuple(Payment.Method.values) if role_of(actor) == Role.SYSTEM else OPERATOR_METHODS


@tells_current_state
def payment_record(
    *,
    order: Order | int,
    actor: User,
    amount: Decimal,
    method: str,
    reference: str,
    at: datetime.datetime | None = None,
) -> Payment:
    """Record the payment of an order's fee, which sends the order on to production."""
    with transaction.atomic():
        order = _lock(order, actor)
        check(order, "record_payment", actor)  # who, then the state, before what was paid is looked at
        if method not in methods_for(actor):
            message = _(
                "Operators record transfers and cheques; an online payment is confirmed by the provider."
            )
            raise InvalidOrder(message, field="method")
        if Decimal(amount) != order.fee:
            raise PaymentRefused(_("The amount due is %(fee)s.") % {"fee": format_money(order.fee)})
        order = _fire(
            order,
            actor,
            [
                Step(
                    "record_payment",
                    _("%(method)s, reference %(reference)s")
                    % {"method": Payment.Method(method).label, "reference": reference},
                ),
                "queue",
            ],
        )
        assert order.fee is not None  # record_payment comes only from awaiting_payment
        return Payment.objects.create(
            order=order,
            amount=order.fee,
            method=method,
            reference=reference,
            recorded_by=actor,
            at=at or timezone.now(),
        )


def payment_start_online(
    *, order: Order | int, actor: User, return_url: str, provider: PaymentProvider | None = None
) -> Checkout:
    """Open a checkout at the payment provider for an order awaiting payment (the holder, or the
    structure manager for their staff, pays; operators record transfers and cheques)."""
    provider = provider or configured_provider()
    order = payment_online_check(order=order, actor=actor, provider=provider)
    assert order.fee is not None and provider is not None
    return provider.start(order_id=order.pk, amount=order.fee, currency="EUR", return_url=return_url)


def payment_online_check(
    *, order: Order | int, actor: User, provider: PaymentProvider | None = None
) -> Order:
    """The order, if ``actor`` may start paying it online now: not visible (404), not the holder's side
    (403), no provider configured (404 ``online_payment_unavailable``), not awaiting payment (409), in that
    order, before the request's body is read."""
    order = _visible(order, actor)
    if role_of(actor) not in HOLDER_SIDE:
        raise NotPermitted(_("Online payment is made by the holder or their structure's manager."))
    if (provider or configured_provider()) is None:
        raise OnlinePaymentOff()
    if order.state != Order.State.AWAITING_PAYMENT:
        raise InvalidTransition(transition="record_payment", state=order.state, allowed=allowed(order))
    return order


def payment_confirm_online(
    *, order: Order | int, reference: str, provider: PaymentProvider | None = None
) -> Payment:
    """Ask the provider whether checkout ``reference`` was paid and record it, as the platform.

    Idempotent on the provider's reference: a second call (the holder's return and the provider's call-back,
    or a retry) returns the payment already recorded, even when both race; a reference already recorded for
    another order is refused, so one checkout never pays two orders."""
    provider = provider or configured_provider()
    if provider is None:
        raise OnlinePaymentOff()
    return _record_online(_pk(order), reference, lambda: provider.confirm(reference=reference))


def payment_confirm_signed(
    *, params: Mapping[str, str], order: Order | int | None = None, provider: PaymentProvider | None = None
) -> Payment:
    """Record the online payment that a provider's signed return or notification reports, as the platform.

    The signature is checked first (``SignedReturns.verify``: nothing unsigned is believed); then the same
    rules as ``payment_confirm_online``: once per provider reference, for the order it was opened for
    (``order``, when the caller knows it: the payer's return to an order's page)."""
    provider = provider or configured_provider()
    if not isinstance(provider, SignedReturns):
        raise PaymentRefused(_("Online payment is not available."))
    confirmation = provider.verify(params=params)
    pk = _pk(order) if order is not None else confirmation.order_id
    if pk is None:
        raise PaymentRefused(_("The payment provider did not say which order was paid."))
    return _record_online(pk, confirmation.reference, lambda: confirmation)


def _record_online(pk: int, reference: str, confirmation_of: Callable[[], Confirmation]) -> Payment:
    existing = _online_payment(reference)
    if existing is not None:
        return _same_order(existing, pk)
    confirmation = confirmation_of()
    _check_confirmation(confirmation, pk)
    try:
        return payment_record(
            order=pk,
            actor=system_user(),
            amount=confirmation.amount,
            method=Payment.Method.CARD_ONLINE,
            reference=reference,
        )
    except InvalidTransition:
        raced = _online_payment(reference)  # a concurrent confirmation of the same checkout won
        if raced is None:
            raise
        return _same_order(raced, pk)


def _online_payment(reference: str) -> Payment | None:
    return Payment.objects.filter(method=Payment.Method.CARD_ONLINE, reference=reference).first()


def _same_order(payment: Payment, order_id: int) -> Payment:
    if payment.order_id != order_id:
        raise PaymentRefused(_("This payment reference belongs to another order."))
    return payment


def _check_confirmation(confirmation: Confirmation, order_id: int) -> None:
    if confirmation.cancelled:
        raise PaymentRefused(_("The payment was cancelled: nothing was paid, the order still awaits it."))
    if not confirmation.paid:
        raise PaymentRefused(_("The payment provider has not received the payment."))
    if confirmation.order_id is not None and confirmation.order_id != order_id:
        raise PaymentRefused(_("This payment reference belongs to another order."))
    if confirmation.currency != "EUR":
        raise PaymentRefused(_("The payment was not made in euros."))


def _visible(order: Order | int, actor: User) -> Order:
    found = orders_visible_to(actor).filter(pk=_pk(order)).first()
    if found is None:
        raise OrderNotFound()
    return found
