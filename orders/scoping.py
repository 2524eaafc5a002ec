"""Which orders (and payments) each signed-in user may see: the rule of ``registry.scoping``, for orders.

An order outside these querysets answers 404 (never 403), so its existence does not leak.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.roles import SEES_ALL, Role, account_of
from registry.models import Structure
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


def structures_orderable_by(user: Any) -> QuerySet[Structure]:
    """The structures ``user`` may name in an order: a holder those they work in (an active membership), a
    structure manager their own, operators and the platform any. Any other structure answers as one that
    does not exist, so an order never reveals which structure ids exist."""
    structures = Structure.objects.all()
    account = account_of(user)
    if account is None:
        return structures.none()
    match account.role:
        case Role.HOLDER:
            mine = structures.filter(
                members__professional_id=account.professional_id or 0, members__is_active=True
            )
            return structures.filter(pk__in=mine.values("pk"))
        case Role.STRUCTURE_MANAGER:
            return structures.filter(pk=account.structure_id or 0)
        case Role.AUDITOR:
            return structures.none()
    return structures
