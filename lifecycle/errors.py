"""Domain errors of the card lifecycle: a stable ``code`` for programs, a ``message`` for people.

The API maps each class to one HTTP status (``status``), so every entry point answers the same way.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class LifecycleError(Exception):
    code = "lifecycle_error"
    status = 400
    default_message = _("The card could not be processed.")

    def __init__(self, message: str | None = None) -> None:
        self.message = str(message or self.default_message)
        super().__init__(self.message)


class CardNotFound(LifecycleError):
    """The actor may not see this card (or it does not exist): the two are indistinguishable on purpose."""

    code = "not_found"
    status = 404
    default_message = _("No such card.")


class NotPermitted(LifecycleError):
    code = "not_permitted"
    status = 403
    default_message = _("You are not allowed to do this.")


class AlreadyOpposed(LifecycleError):
    """A second declaration for a card already in opposition: nothing changes."""

    code = "already_opposed"
    status = 409


class InvalidCardState(LifecycleError):
    code = "invalid_state"
    status = 409


class NotReceivedTooEarly(LifecycleError):
    code = "not_received_too_early"
    status = 409


class InvalidInput(LifecycleError):
    code = "invalid"
    status = 400


class PinRefused(LifecycleError):
    code = "pin_incorrect"
    status = 400
    default_message = _("Wrong PIN.")


class PinBlocked(LifecycleError):
    code = "pin_blocked"
    status = 409
    default_message = _("Three wrong PINs in a row: the card is blocked; unblock it with the PUK.")


class RenewalLinkInvalid(LifecycleError):
    code = "renewal_link_invalid"
    status = 400
    default_message = _("This renewal link is not valid.")


class RenewalLinkExpired(LifecycleError):
    code = "renewal_link_expired"
    status = 410
    default_message = _("This renewal link has expired; order the renewal from your space.")


class RenewalLinkUsed(LifecycleError):
    code = "renewal_link_used"
    status = 409
    default_message = _("This renewal link has already been used.")


class RenewalRefused(LifecycleError):
    """The orders workflow refused the renewal (not eligible, card no longer current...)."""

    code = "renewal_refused"
    status = 409


class BatchNotFound(LifecycleError):
    code = "not_found"
    status = 404
    default_message = _("No such shipping batch.")


class CardUnreachable(LifecycleError):
    """The PIN can be checked only on the card, through its station's reader; it is not there."""

    code = "card_unreachable"
    status = 409
    default_message = _("The PIN cannot be checked now: confirm receipt instead, or retry later.")
