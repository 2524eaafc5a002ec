"""The events the platform tells people about, and what each one needs.

Every event has a subject and a body template in each language, under
``notifications/templates/notifications/<event>/{subject,body}.<lang>.txt``. ``fields`` are the context keys
the templates use: ``notify()`` refuses a context that lacks one, so a missing value fails in the caller's
transaction instead of producing a letter with a hole in it. ``paper`` events also go out as a letter even
when the person has an e-mail address (formal notices the holder must be able to keep).
"""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Event(models.TextChoices):
    ORDER_RECEIVED = "order_received", _("Order received")
    ORDER_APPROVED = "order_approved", _("Order approved")
    ORDER_REJECTED = "order_rejected", _("Order rejected")
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
    CARD_SHIPPED = "card_shipped", _("Card shipped")
    PIN_MAILER_SENT = "pin_mailer_sent", _("Secret codes sent")
    OPPOSITION_CONFIRMED = "opposition_confirmed", _("Opposition confirmed")
    REPLACEMENT_ORDERED = "replacement_ordered", _("Replacement ordered")
    RENEWAL_DUE = "renewal_due", _("Renewal due")
    CARD_EXPIRED = "card_expired", _("Card expired")
    CARD_REVOKED = "card_revoked", _("Card revoked")
    CODES_REISSUED = "codes_reissued", _("Unblock code sent again")
    CARD_UNBLOCK_RESPONSE = "card_unblock_response", _("Card unblocked at the help desk")
    FEE_WAIVED = "fee_waived", _("Replacement fee waived")
    ECPS_REVOKED = "ecps_revoked", _("e-CPS revoked")
    # Issue 16: the registry drives the cards.
    CARD_PROPOSED = "card_proposed", _("A card is proposed to you")
    ORDER_PLACED_FOR_YOU = "order_placed_for_you", _("A card was ordered for you")
    RENEWAL_DECLINED = "renewal_declined", _("Renewal declined")


@dataclass(frozen=True)
class EventSpec:
    fields: tuple[str, ...]
    paper: bool = False


EVENTS: dict[str, EventSpec] = {
    Event.ORDER_RECEIVED: EventSpec(fields=("order_reference", "card_type")),
    Event.ORDER_APPROVED: EventSpec(fields=("order_reference", "card_type", "authority")),
    Event.ORDER_REJECTED: EventSpec(fields=("order_reference", "card_type", "authority", "reason")),
    Event.AWAITING_PAYMENT: EventSpec(fields=("order_reference", "card_type", "amount", "payment_url")),
    Event.CARD_SHIPPED: EventSpec(fields=("card_number", "card_type", "tracking_reference")),
    Event.PIN_MAILER_SENT: EventSpec(fields=("card_number", "card_type")),
    Event.OPPOSITION_CONFIRMED: EventSpec(
        fields=("card_number", "card_type", "reason", "declared_at"), paper=True
    ),
    Event.REPLACEMENT_ORDERED: EventSpec(fields=("card_number", "order_reference", "amount")),
    Event.RENEWAL_DUE: EventSpec(fields=("card_number", "card_type", "expires_on", "renewal_url")),
    Event.CARD_EXPIRED: EventSpec(fields=("card_number", "card_type", "expired_on")),
    Event.CARD_REVOKED: EventSpec(fields=("card_number", "card_type", "reason"), paper=True),
    Event.CODES_REISSUED: EventSpec(fields=("card_number", "card_type", "reference", "amount")),
    Event.CARD_UNBLOCK_RESPONSE: EventSpec(fields=("card_number", "card_type", "given_at")),
    Event.FEE_WAIVED: EventSpec(fields=("order_reference", "card_type", "amount")),
    Event.ECPS_REVOKED: EventSpec(fields=("profession", "reason", "revoked_at")),
    Event.CARD_PROPOSED: EventSpec(fields=("order_reference", "card_type", "explanation", "order_url")),
    Event.ORDER_PLACED_FOR_YOU: EventSpec(
        fields=("order_reference", "card_type", "explanation", "order_url")
    ),
    Event.RENEWAL_DECLINED: EventSpec(fields=("card_number", "card_type", "expires_on")),
}

# Context keys that would put a secret into the outbox table (PIN mailers carry those, never notifications).
FORBIDDEN_KEY_PARTS = frozenset({"pin", "puk", "password", "passphrase", "secret", "key"})
