"""The platform's roles, the named sets of them every rule speaks of, and who a user is.

A role is what ``registry.models.Account.role`` holds (its choices are ``Role``). The sets below are the
one definition of "an operator", "who watches production", ...: rules compose them, never list roles again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    HOLDER = "holder", _("Holder")
    STRUCTURE_MANAGER = "structure_manager", _("Structure manager")
    AUTHORITY_OPERATOR = "authority_operator", _("Ordre operator")
    ANS_OPERATOR = "ans_operator", _("ANS operator")
    AUDITOR = "auditor", _("Auditor")
    SYSTEM = "system", _("Platform process")  # stations, periodic tasks, provider call-backs


# The people who review orders and act for an authority (an Ordre's operators, ANS's).
OPERATORS = frozenset({Role.AUTHORITY_OPERATOR, Role.ANS_OPERATOR})
# Those who act for a holder: the holder, or the manager of the structure the holder works in.
HOLDER_SIDE = frozenset({Role.HOLDER, Role.STRUCTURE_MANAGER})
# Who works in the back office: the operators, and the auditor who reads what they do.
BACK_OFFICE = OPERATORS | {Role.AUDITOR}
# Those who see every object: the auditor (read-only) and the platform itself.
SEES_ALL = frozenset({Role.AUDITOR, Role.SYSTEM})
# Production logistics (stations, shipping) are ANS's, whoever reviewed the order.
PRODUCTION = frozenset({Role.ANS_OPERATOR, Role.SYSTEM})
PRODUCTION_WATCHERS = PRODUCTION | {Role.AUDITOR}
# The e-CPS provider's relying parties (the health services holders sign in to) are ANS's to register.
RELYING_PARTY_MANAGERS = frozenset({Role.ANS_OPERATOR, Role.SYSTEM})
RELYING_PARTY_READERS = RELYING_PARTY_MANAGERS | {Role.AUDITOR}
# Every role a person may sign in with (the system account never signs in).
PEOPLE = frozenset(Role) - {Role.SYSTEM}


def account_of(user: Any) -> Any:
    """The user's ``registry.models.Account``, or None (anonymous, or a user without one)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    # A missing one-to-one raises RelatedObjectDoesNotExist, which is also an AttributeError.
    return getattr(user, "account", None)


def role_of(user: Any) -> str | None:
    account = account_of(user)
    return account.role if account is not None else None


def role_in(roles: Collection[str]) -> Callable[[Any, Any], bool]:
    """A transition's ``permission=``: the user's role is one of ``roles`` (whatever the object)."""

    def permission(obj: Any, user: Any) -> bool:
        return role_of(user) in roles

    permission.__name__ = "role_in_" + "_".join(sorted(roles))
    return permission
