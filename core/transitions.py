"""The one path of every state change: ``fire``.

Modelled on Silver's ``locking_atomic_transition``: inside the caller's transaction, on a row the caller
locked (``lock``), each transition is checked twice by the machine itself (``can_proceed``: the state and
the conditions allow it; ``has_transition_perm``: the ``permission=`` declared on the transition lets this
actor fire it), run, then the row is saved once (only the transition's own columns, and the optimistic
check of ``ConcurrentTransitionMixin`` behind the lock), and the event rows are written in one INSERT.

A caller who may not fire the transition at all gets ``NotPermitted`` whatever the state, so a refusal
does not tell a stranger what state the object is in; one who may, from a state that does not allow it,
gets the app's ``InvalidTransition`` with the transitions the state allows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from .errors import ConcurrentUpdate, InvalidTransition, NotPermitted


@dataclass(frozen=True)
class Step:
    """One transition to fire: its name, the reason given (for the event row) and its arguments."""

    name: str
    reason: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)


# (object, transition name, state before, reason) -> the unsaved event row of that transition
EventFactory = Callable[[Any, str, str, str], models.Model]


def lock(queryset: models.QuerySet, pk: int) -> Any:
    """The row, re-read and locked for this transaction (only its own row, not what comes along)."""
    return queryset.select_for_update(of=("self",)).get(pk=pk)


def may_fire(obj: Any, name: str, actor: Any) -> bool:
    """Whether the transition's declared ``permission`` lets ``actor`` fire it, whatever the state."""
    method = getattr(obj, name)
    transitions = method._django_fsm.transitions.values()
    return any(transition.has_perm(obj, actor) for transition in transitions)


def allowed(obj: Any, actor: Any = None) -> list[str]:
    """The transitions the current state allows (all of them, or those ``actor`` may fire)."""
    available = obj.get_available_state_transitions()
    return sorted(t.name for t in available if actor is None or t.has_perm(obj, actor))


def check(obj: Any, name: str, actor: Any, invalid: type[InvalidTransition] = InvalidTransition) -> None:
    """Raise unless ``actor`` may fire transition ``name`` on ``obj`` now."""
    method = getattr(obj, name)
    if not may_fire(obj, name, actor):
        raise NotPermitted()
    if not can_proceed(method):
        raise invalid(transition=name, state=_state(obj), allowed=allowed(obj))
    if not has_transition_perm(method, actor):  # a permission that depends on the state it leaves
        raise NotPermitted()


def fire(
    obj: Any,
    steps: Sequence[Step | str],
    *,
    actor: Any,
    event: EventFactory | None = None,
    fields: Sequence[str] | None = None,
    invalid: type[InvalidTransition] = InvalidTransition,
    concurrent: type[ConcurrentUpdate] = ConcurrentUpdate,
) -> Any:
    """Fire ``steps`` one after the other on a row locked in this transaction, save it once (``fields``
    only, when given) and write one event row per step. Returns the object."""
    if not connection.in_atomic_block:
        raise RuntimeError("fire() runs inside the transaction that locked the row")
    events = []
    for step in steps:
        step = Step(step) if isinstance(step, str) else step
        check(obj, step.name, actor, invalid)
        from_state = _state(obj)
        getattr(obj, step.name)(**step.kwargs)
        if event is not None:
            events.append(event(obj, step.name, from_state, step.reason))
    try:
        obj.save(update_fields=list(fields) if fields else None)
    except ConcurrentTransition:
        raise concurrent() from None
    if events:
        type(events[0])._default_manager.bulk_create(events)
    return obj


def _state(obj: Any) -> str:
    return str(obj.state)


def transition_names(model: type[models.Model]) -> set[str]:
    """Every transition method of a model with a state machine (the guard test reads them)."""
    field: Any = model._meta.get_field("state")
    return {t.name for t in field.get_all_transitions(model)}
