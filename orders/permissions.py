"""Who may fire each order transition: one table, read by the state machine itself.

A role here is the ``registry.models.Account`` role. The table answers "may this kind of actor fire this
transition at all"; which orders an actor may touch (their own, their structure's, their authority's) is
the job of ``registry.scoping``, checked by the services before this table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from registry.models import Account

Role = Account.Role
OPERATORS = frozenset({Role.AUTHORITY_OPERATOR, Role.ANS_OPERATOR})

# Order creation is not a transition but follows the same rule.
CREATE_ROLES = frozenset({Role.HOLDER, Role.STRUCTURE_MANAGER, Role.SYSTEM})

TRANSITION_ROLES: dict[str, frozenset[str]] = {
    "submit": frozenset({Role.HOLDER, Role.STRUCTURE_MANAGER, Role.SYSTEM}),
    # Review is a human decision of the authority: no platform process approves or rejects.
    "approve": OPERATORS,
    "reject": OPERATORS,
    # Fired by the service right after approval, as the approving operator.
    "request_payment": OPERATORS | {Role.SYSTEM},
    # Transfers and cheques are recorded by operators; online payments are confirmed by the platform.
    "record_payment": OPERATORS | {Role.SYSTEM},
    "queue": OPERATORS | {Role.SYSTEM},
    "cancel": OPERATORS | {Role.HOLDER, Role.STRUCTURE_MANAGER, Role.SYSTEM},
    # Production is the stations' business.
    "start_production": frozenset({Role.SYSTEM}),
    "mark_produced": frozenset({Role.SYSTEM}),
    "mark_failed": frozenset({Role.SYSTEM}),
    # The platform requeues a failed order by itself only below the failure limit; then an operator decides.
    "requeue": OPERATORS | {Role.SYSTEM},
    "ship": frozenset({Role.ANS_OPERATOR, Role.SYSTEM}),
    "deliver": frozenset({Role.HOLDER, Role.STRUCTURE_MANAGER, Role.ANS_OPERATOR, Role.SYSTEM}),
}


def role_of(user: Any) -> str | None:
    account = getattr(user, "account", None) if user is not None else None
    return account.role if account is not None else None


def role_may(role: str | None, transition_name: str, order: Any = None) -> bool:
    if role not in TRANSITION_ROLES[transition_name]:
        return False
    if transition_name == "requeue" and role == Role.SYSTEM and order is not None:
        return order.failure_count < settings.CPX_MAX_PRODUCTION_FAILURES
    return True


def may_fire(transition_name: str) -> Callable[[Any, Any], bool]:
    """The ``permission`` of a django-fsm transition: ``(order, user) -> bool``."""

    def permission(order: Any, user: Any) -> bool:
        return role_may(role_of(user), transition_name, order)

    permission.__name__ = f"may_{transition_name}"
    return permission
