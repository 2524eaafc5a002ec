"""Who may fire each order transition: the ``permission=`` of ``orders.models.Order``'s transitions.

``core.transitions.fire`` evaluates it on every state change (``may_fire`` first, whatever the state, then
``has_transition_perm``), and ``core.transitions.allowed(order, actor)`` answers "which transitions may I
fire now" with it (the API's ``your_transitions``, the back office's buttons): this table is the one place
the rule lives, the machine itself says from which states. Which *orders* an actor may touch (their own,
their structure's, their authority's) is ``orders.scoping``, applied by the services before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from core.roles import HOLDER_SIDE, OPERATORS, Role, role_in, role_of

# Order creation is not a transition but follows the same rule as submission. Operators order on a
# holder's behalf (the back office's holder page), only within their own authority (``orders.services``).
CREATE_ROLES = HOLDER_SIDE | OPERATORS | {Role.SYSTEM}

TRANSITION_ROLES: dict[str, frozenset[str]] = {
    "submit": CREATE_ROLES,
    # Review is a human decision of the authority: no platform process approves or rejects.
    "approve": OPERATORS,
    "reject": OPERATORS,
    # Fired by the service right after approval, as the approving operator.
    "request_payment": OPERATORS | {Role.SYSTEM},
    # Operators record transfers and cheques; online payments are confirmed by the platform.
    "record_payment": OPERATORS | {Role.SYSTEM},
    "queue": OPERATORS | {Role.SYSTEM},
    "cancel": OPERATORS | HOLDER_SIDE | {Role.SYSTEM},
    # Production is the stations' business.
    "start_production": frozenset({Role.SYSTEM}),
    "mark_produced": frozenset({Role.SYSTEM}),
    "mark_failed": frozenset({Role.SYSTEM}),
    # The platform requeues a failed order by itself only below the failure limit; then an operator decides.
    "requeue": OPERATORS | {Role.SYSTEM},
}


def may_requeue(order: Any, user: Any) -> bool:
    """An operator requeues a failed order at any time; the platform only below the failure limit."""
    role = role_of(user)
    if role == Role.SYSTEM:
        return bool(order.failure_count < settings.CPX_MAX_PRODUCTION_FAILURES)
    return role in TRANSITION_ROLES["requeue"]


def may(transition_name: str) -> Callable[[Any, Any], bool]:
    """The ``permission`` of transition ``transition_name``: ``(order, user) -> bool``."""
    if transition_name == "requeue":
        return may_requeue
    permission = role_in(TRANSITION_ROLES[transition_name])
    permission.__name__ = f"may_{transition_name}"
    return permission
