"""Which people each signed-in user may see. Orders and cards follow the same rule, each beside its own
model (``orders.scoping``, ``cards.scoping``).

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

from typing import Any

from django.db.models import Q, QuerySet

from core.roles import SEES_ALL, account_of

from .models import Account, Professional, StructureMember


def _staff_ids(account: Account) -> QuerySet:
    members = StructureMember.objects.filter(structure=account.structure, is_active=True)
    return members.values("professional_id")


def ans_people() -> Q:
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
            return people.filter(pk__in=Professional.objects.filter(ans_people()).values("pk"))
    return people.none()
