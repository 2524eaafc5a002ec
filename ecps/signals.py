"""What the e-CPS does when something below it happens (it listens; the layers below never call it):

- a card goes to ``opposed`` → the exercise's live e-CPS is revoked (``services.
  ecps_revoke_for_card_opposition``), in the card transition's transaction;
- the holder signs out of the platform (portal sign-out, the provider's end-session endpoint) → the
  browser's provider session ends and its relying parties get back-channel logout tokens.
"""

from __future__ import annotations

from typing import Any

from cards.models import Card

from . import logout, services


def card_transitioned(
    sender: Any, instance: Card, name: str, source: str, target: str, **kwargs: Any
) -> None:
    if target == Card.State.OPPOSED:
        services.ecps_revoke_for_card_opposition(card=instance)


def signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from .provider import session_sid  # the views module imports the provider's settings at first use

    if request is not None and hasattr(request, "session"):
        logout.sessions_end_for_sid(session_sid(request))
