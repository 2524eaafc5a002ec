"""Who may fire each card transition: the ``permission=`` of ``cards.models.Card``'s transitions.

``core.transitions.fire`` evaluates them on every state change (and ``cards.services.card_may`` before a
use case starts), so this is the one place the rule lives; the machine itself says from which states.
Which *cards* a user may act on is ``cards.scoping``; a use case may add finer rules of its own (the
channel an opposition is declared by, ``lifecycle.opposition``).
"""

from __future__ import annotations

from core.roles import HOLDER_SIDE, OPERATORS, PRODUCTION, Role

# ANS ships every card, whoever reviewed its order (production logistics are ANS's).
SHIPS = PRODUCTION
# The holder (or their structure's manager) activates a card they hold, by signing a challenge with it (or,
# where the authority allows it, by confirming receipt): never the platform on its own.
ACTIVATES = HOLDER_SIDE
# An opposition is declared by the holder's side online, by an operator for a call or a form 501, or by
# the platform itself; a damaged or defective card is revoked by the same declaration.
DECLARES = HOLDER_SIDE | OPERATORS | {Role.SYSTEM}
# Revoked: by a declaration (above), by the activation of the card that supersedes it (the holder's side
# or the platform), or by the platform when the holder is struck off.
REVOKES = DECLARES
# Expiry is the platform's daily task.
EXPIRES = frozenset({Role.SYSTEM})
