"""What each signed-in user may see: the one place where object-level scoping is decided.

Every list, detail and action goes through these querysets; an object outside them answers 404 (never
403), so its existence does not leak. The rule per ``Account`` role:

- holder: their own person, cards and orders;
- structure manager: their structure's staff, and the cards and orders made for the structure;
- authority operator: orders whose reviewing authority is theirs; people and cards of their professions;
- ANS operator: orders reviewed by ANS; people and cards outside the Ordres (ADELI, structure staff);
- auditor (read-only) and system (stations, periodic tasks): everything.

A user without an account sees nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from .models import Account, Professional, StructureMember
from .routing import ANS_CODE

if TYPE_CHECKING:
    from issuance.models import Card
    from orders.models import Order, Payment

SEES_ALL = {Account.Role.AUDITOR, Account.Role.SYSTEM}


def account_of(user: Any) -> Account | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.account
    except Account.DoesNotExist:
        return None


def role_of(user: Any) -> str | None:
    account = account_of(user)
    return account.role if account else None


def _staff_ids(account: Account) -> QuerySet:
    members = StructureMember.objects.filter(structure=account.structure, is_active=True)
    return members.values("professional_id")


def _ans_people() -> Q:
    """People whose orders go to ANS (see registry.routing): no RPPS, an ADELI profession, or no exercise."""
    return Q(rpps__isnull=True) | Q(exercises__profession__authority__isnull=True) | Q(exercises__isnull=True)


def professionals_visible_to(user: Any) -> QuerySet[Professional]:
    people = Professional.objects.all()
    account = account_of(user)
    if account is None:
        return people.none()
    match account.role:
        case role if role in SEES_ALL:
            return people
        case Account.Role.HOLDER:
            return people.filter(pk=account.professional_id or 0)
        case Account.Role.STRUCTURE_MANAGER:
            return people.filter(pk__in=_staff_ids(account))
        case Account.Role.AUTHORITY_OPERATOR:
            mine = Professional.objects.filter(exercises__profession__authority=account.authority)
            return people.filter(pk__in=mine.values("pk"))
        case Account.Role.ANS_OPERATOR:
            return people.filter(pk__in=Professional.objects.filter(_ans_people()).values("pk"))
    return people.none()


def orders_visible_to(user: Any) -> QuerySet[Order]:
    from orders.models import Order

    orders = Order.objects.all()
    account = account_of(user)
    if account is None:
        return orders.none()
    match account.role:
        case role if role in SEES_ALL:
            return orders
        case Account.Role.HOLDER:
            return orders.filter(professional_id=account.professional_id)
        case Account.Role.STRUCTURE_MANAGER:
            return orders.filter(structure_id=account.structure_id)
        case Account.Role.AUTHORITY_OPERATOR:
            return orders.filter(authority_id=account.authority_id)
        case Account.Role.ANS_OPERATOR:
            return orders.filter(authority__code=ANS_CODE)
    return orders.none()


def cards_visible_to(user: Any) -> QuerySet[Card]:
    from issuance.models import Card

    cards = Card.objects.all()
    account = account_of(user)
    if account is None:
        return cards.none()
    match account.role:
        case role if role in SEES_ALL:
            return cards
        case Account.Role.HOLDER:
            return cards.filter(professional_id=account.professional_id)
        case Account.Role.STRUCTURE_MANAGER:
            return cards.filter(structure_id=account.structure_id)
        case Account.Role.AUTHORITY_OPERATOR:
            return cards.filter(
                exercise__profession__authority_id=account.authority_id, professional__rpps__isnull=False
            )
        case Account.Role.ANS_OPERATOR:
            return cards.filter(
                Q(exercise__isnull=True)
                | Q(exercise__profession__authority__isnull=True)
                | Q(professional__rpps__isnull=True)
            )
    return cards.none()


def payments_visible_to(user: Any) -> QuerySet[Payment]:
    from orders.models import Payment

    return Payment.objects.filter(order__in=orders_visible_to(user).values("pk"))


def is_read_only(user: Any) -> bool:
    return role_of(user) == Account.Role.AUDITOR
