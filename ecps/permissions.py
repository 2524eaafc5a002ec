"""Who may fire each e-CPS transition: the ``permission=`` of ``ecps.models.ECps``'s transitions.

``core.transitions.fire`` evaluates them on every state change, so this is the one place the rule lives
(the machine itself says from which states). Which *e-CPS* a user may act on is ``ecps.scoping``, checked
by the services first: a holder reaches only their own.
"""

from __future__ import annotations

from core.roles import OPERATORS, Role

# A misplaced phone: only its holder suspends the e-CPS, and reinstates it once the phone is found.
SUSPENDS = frozenset({Role.HOLDER})
REINSTATES = SUSPENDS
# Loss or theft (opposition) revokes for good: the holder online, an operator taking the holder's call, or
# the platform itself (striking off, by ``ecps.services.ecps_revoke_for_inactive_holders``).
REVOKES = OPERATORS | {Role.HOLDER, Role.SYSTEM}
