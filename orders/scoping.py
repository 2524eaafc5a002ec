"""Which orders (and payments) each signed-in user may see: the rule of ``registry.scoping``, for orders.

An order outside these querysets answers 404 (never 403), so its existence does not leak.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.roles import SEES_ALL, Role, account_of
from registry.routing import ANS_CODE

from .models import Order, Payment


def orders_visible_to(user: Any) -> QuerySet[Order]:
    orders = Order.objects.all()
    account = account_of(user)
    if account is None:
        return orders.none()
    match account.role:
        case role if role in SEES_ALL:
            return orders
        case Role.HOLDER:
            return orders.filter(professional_id=account.professional_id)
        case Role.STRUCTURE_MANAGER:
            return orders.filter(structure_id=account.structure_id)
        case Role.AUTHORITY_OPERATOR:
            return orders.filter(authority_id=account.authority_id)
        case Role.ANS_OPERATOR:
            return orders.filter(authority__code=ANS_CODE)
    return orders.none()


def payments_visible_to(user: Any) -> QuerySet[Payment]:
    return Payment.objects.filter(order__in=orders_visible_to(user).values("pk"))
