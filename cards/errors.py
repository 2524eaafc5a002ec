"""The errors of a card's own services, shared by every app that acts on a card (lifecycle, ecps).

Their codes and answers are the ones the card endpoints have always given: ``not_found`` (404) and
``invalid_state`` (409, ``{"code", "message"}``).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from core.errors import ConcurrentUpdate, DomainError, InvalidTransition, NotFound


class CardNotFound(NotFound):
    """The actor may not see this card (or it does not exist): the two are indistinguishable on purpose."""

    default_message = _("No such card.")


class InvalidCardState(InvalidTransition):
    """The card's state does not allow this: a transition the machine refuses (raised by ``fire``), or a
    use case the state rules out (``InvalidCardState(message)``)."""

    code = "invalid_state"

    def __init__(
        self,
        message: Any = None,
        *,
        transition: str = "",
        state: str = "",
        allowed: list[str] | None = None,
    ) -> None:
        self.transition, self.state, self.allowed = transition, state, allowed or []
        if message is None and transition:
            message = _("A card in state “%(state)s” cannot be %(action)s.") % {
                "state": state,
                "action": transition,
            }
        # The answer stays {"code", "message"}: the card endpoints never listed the allowed transitions.
        DomainError.__init__(self, message)


class CardChanged(ConcurrentUpdate):
    """Changed by someone else between the lock and the save (the lock makes it all but impossible)."""

    code = "invalid_state"
    default_message = _("The card was changed at the same time; retry.")


class CardSlotTaken(ConcurrentUpdate):
    """Another card of the same slot (exercise, or structure and card type) is already active: the database
    refuses a second one (constraint trigger ``card_one_active_per_slot``, cards migration 0005)."""

    code = "card_slot_taken"
    default_message = _("The holder already has an active card for this exercise.")
