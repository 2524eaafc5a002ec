"""Domain errors of the card lifecycle, on the platform's one base (``core.errors``): a stable ``code``
for programs, a ``message`` for people and the HTTP ``status`` every entry point answers with.

A card not found or in the wrong state is the card's own error (``cards.errors``); "not permitted" and
"invalid input" are the platform's (``core.errors``).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, InvalidInput, NotFound


class AlreadyOpposed(DomainError):
    """A second declaration for a card already in opposition: nothing changes."""

    code = "already_opposed"
    status = 409


class NotReceivedTooEarly(DomainError):
    code = "not_received_too_early"
    status = 409


class PinRefused(InvalidInput):
    code = "pin_incorrect"
    default_message = _("Wrong PIN.")


class CardUnreachable(DomainError):
    """The PIN can be checked only on the card, through its station's reader; it is not there."""

    code = "card_unreachable"
    status = 409
    default_message = _("The PIN cannot be checked now: confirm receipt instead, or retry later.")


class RenewalLinkInvalid(DomainError):
    code = "renewal_link_invalid"
    status = 400
    default_message = _("This renewal link is not valid.")


class RenewalLinkExpired(DomainError):
    code = "renewal_link_expired"
    status = 410
    default_message = _("This renewal link has expired; order the renewal from your space.")


class RenewalLinkUsed(DomainError):
    code = "renewal_link_used"
    status = 409
    default_message = _("This renewal link has already been used.")


class RenewalRefused(DomainError):
    """The orders workflow refused the renewal (not eligible, card no longer current...)."""

    code = "renewal_refused"
    status = 409


class BatchNotFound(NotFound):
    default_message = _("No such shipping batch.")
