"""Domain errors of the card lifecycle, on the platform's one base (``core.errors``): a stable ``code``
for programs, a ``message`` for people and the HTTP ``status`` every entry point answers with.

A card not found or in the wrong state is the card's own error (``cards.errors``); "not permitted" and
"invalid input" are the platform's (``core.errors``).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, NotFound


class AlreadyOpposed(DomainError):
    """A second declaration for a card already in opposition: nothing changes."""

    code = "already_opposed"
    status = 409


class NotReceivedTooEarly(DomainError):
    code = "not_received_too_early"
    status = 409


class ChallengeInvalid(DomainError):
    """Not an activation challenge the platform issued for this card."""

    code = "challenge_invalid"
    status = 400
    default_message = _("This is not an activation challenge of this card: ask for a new one.")


class ChallengeClosed(DomainError):
    """Used already (a replay), closed after too many wrong signatures, or replaced by a newer one."""

    code = "challenge_used"
    status = 409
    default_message = _("This activation challenge has already been used or closed: ask for a new one.")


class ChallengeExpired(DomainError):
    code = "challenge_expired"
    status = 409
    default_message = _("This activation challenge has expired: ask for a new one.")


class SignatureRejected(DomainError):
    """Not the card's signature of the challenge (or not a signature at all): the challenge stays open
    until its wrong signatures run out."""

    code = "bad_signature"
    status = 400
    default_message = _("This is not the card's signature of the challenge.")


class CertificateNotUsable(DomainError):
    """The card has no current, unrevoked authentication certificate to check a signature with."""

    code = "certificate_not_usable"
    status = 409
    default_message = _(
        "The card's authentication certificate is revoked or not valid: it cannot be activated."
    )


class ReceiptConfirmationRefused(DomainError):
    """The card's authority does not accept a confirmation of receipt without proof of possession."""

    code = "receipt_confirmation_not_allowed"
    status = 403
    default_message = _(
        "The authority responsible for this card does not allow activation by confirming receipt: activate "
        "it with the card itself (cpx-card sign)."
    )


class RenewalLinkInvalid(DomainError):
    """A token the platform did not sign (or that names no reminder): no such link, as for any reference to
    an object that does not exist (``core.api.validate_or_404``)."""

    code = "renewal_link_invalid"
    status = 404
    default_message = _("This renewal link is not valid.")


class RenewalLinkExpired(DomainError):
    code = "renewal_link_expired"
    status = 410
    default_message = _("This renewal link has expired; order the renewal from your space.")


class RenewalLinkUsed(DomainError):
    code = "renewal_link_used"
    status = 409
    default_message = _("This renewal link has already been used.")


class RenewalLinkMoved(DomainError):
    """The old form of the API, with the token in the URL path (which access logs keep)."""

    code = "renewal_link_moved"
    status = 410
    default_message = _(
        "A renewal link's token is not taken in a URL: POST it in the body to /api/v1/renewal-links/confirm/ "
        "(or /api/v1/renewal-links/preview/ to see what it renews)."
    )


class RenewalRefused(DomainError):
    """The orders workflow refused the renewal (not eligible, card no longer current...)."""

    code = "renewal_refused"
    status = 409


class BatchNotFound(NotFound):
    default_message = _("No such shipping batch.")


class BatchExists(DomainError):
    """A shipping batch's reference is recorded once: a second batch with it is a duplicate."""

    code = "batch_exists"
    status = 409

    def __init__(self, reference: str) -> None:
        super().__init__(_("Batch %(ref)s is already recorded.") % {"ref": reference})


class ProfessionNotFound(NotFound):
    default_message = _("No such profession.")


class UnblockRequestNotFound(NotFound):
    default_message = _("No such unblock request.")
