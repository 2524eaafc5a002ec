"""``{% load payment_tags %}{% payment_options order as pay %}``: what the payment panel of an order offers
(``portal/partials/payment_panel.html``): online payment when a provider is configured and the reader may pay
online, the transfer's details (payee, IBAN, BIC, the order's reference, the amount), the cheque's address,
the payment made and its invoice."""

from __future__ import annotations

from typing import Any

from django import template

from core.roles import HOLDER_SIDE, role_of
from orders.models import Order, Payment
from orders.payments import configured_provider, payee, transfer_reference

register = template.Library()


@register.simple_tag(takes_context=True)
def payment_options(context: template.Context, order: Order) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    awaiting = order.state == Order.State.AWAITING_PAYMENT
    payment = Payment.objects.filter(order=order).first() if order.fee is not None else None
    return {
        "awaiting": awaiting,
        "online": awaiting and configured_provider() is not None and role_of(user) in HOLDER_SIDE,
        "amount": order.fee,
        "reference": transfer_reference(order.pk),
        "payee": payee(),
        "payment": payment,
    }
