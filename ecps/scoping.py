"""Which e-CPS a user may see: the same rule as their cards (``cards.scoping``), so an operator sees the
e-CPS of the people whose cards they see, a holder their own, and anything else answers 404."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from core.roles import SEES_ALL, Role, account_of

from .models import ECps


def ecps_visible_to(user: Any) -> QuerySet[ECps]:
    rows = ECps.objects.all()
    account = account_of(user)
    if account is None:
        return rows.none()
    match account.role:
        case role if role in SEES_ALL:
            return rows
        case Role.HOLDER:
            return rows.filter(holder_id=account.professional_id)
        case Role.AUTHORITY_OPERATOR:
            return rows.filter(
                exercise__profession__authority_id=account.authority_id, holder__rpps__isnull=False
            )
        case Role.ANS_OPERATOR:
            return rows.filter(Q(exercise__profession__authority__isnull=True) | Q(holder__rpps__isnull=True))
    return rows.none()
