"""The development payment provider: a checkout page served by the platform itself (``/dev-payments/``).

It behaves as a real provider does: ``start`` opens a checkout and sends the payer to its page; the page
takes a test card number (``TEST_CARDS``: accepted or declined), then notifies the platform and sends the
payer back, both with parameters signed by HMAC-SHA-256 under ``CPX_DEV_PAYMENT_SECRET`` (``verify`` checks
them, ``confirm`` checks the checkout's own signed outcome). No money moves. It is never enabled in
production: ``orders.checks`` errors when it is configured with DEBUG off; the setting is empty by default.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from ..errors import PaymentRefused
from ..models import DevCheckout
from ..payments import Checkout, Confirmation

ACCEPTED = "accepted"
DECLINED = "declined"
# The test cards the checkout page lists (numbers as Lyra's test platforms give them).
TEST_CARDS: dict[str, str] = {
    "4970100000000003": ACCEPTED,
    "5970100300000009": ACCEPTED,
    "4970100000000014": DECLINED,
}
SIGNED_FIELDS = ("reference", "order", "amount", "currency", "status")


class CardDeclined(PaymentRefused):
    code = "card_declined"
    default_message = _("The (test) bank declined this card. No money was taken.")


class UnknownTestCard(PaymentRefused):
    code = "unknown_test_card"
    default_message = _("This is not one of the test cards listed on this page.")


class CheckoutClosed(PaymentRefused):
    code = "checkout_closed"
    default_message = _("This checkout is closed.")


def _secret() -> bytes:
    configured = settings.CPX_DEV_PAYMENT_SECRET
    if configured:
        return configured.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"cpx-dev-payments", hashlib.sha256).digest()


def sign(values: Mapping[str, str]) -> str:
    """HMAC-SHA-256 (hex) of the signed fields, in their fixed order, joined by "|"."""
    message = "|".join(f"{name}={values.get(name, '')}" for name in SIGNED_FIELDS)
    return hmac.new(_secret(), message.encode(), hashlib.sha256).hexdigest()


def _values(checkout: DevCheckout) -> dict[str, str]:
    return {
        "reference": checkout.reference,
        "order": str(checkout.order_id),
        "amount": f"{checkout.amount:.2f}",
        "currency": checkout.currency,
        "status": checkout.state,
    }


def signed_params(checkout: DevCheckout) -> dict[str, str]:
    """What the provider sends back (the payer's return, its notification): the outcome, signed."""
    values = _values(checkout)
    return {**values, "signature": sign(values)}


def return_url(checkout: DevCheckout) -> str:
    separator = "&" if "?" in checkout.return_url else "?"
    return f"{checkout.return_url}{separator}{urlencode(signed_params(checkout))}"


def is_configured() -> bool:
    """Whether the configured provider is this one (the checkout pages answer 404 otherwise)."""
    path = settings.CPX_PAYMENT_PROVIDER
    if not path:
        return False
    try:
        provider = import_string(path)
    except ImportError:
        return False
    return isinstance(provider, type) and issubclass(provider, DevProvider)


class DevProvider:
    """``orders.payments.PaymentProvider`` and ``SignedReturns``."""

    def start(self, *, order_id: int, amount: Decimal, currency: str, return_url: str) -> Checkout:
        checkout = DevCheckout.objects.create(
            reference=secrets.token_urlsafe(18),
            order_id=order_id,
            amount=amount,
            currency=currency,
            return_url=return_url,
        )
        url = reverse("portal:devpay-checkout", args=[checkout.reference])
        return Checkout(reference=checkout.reference, redirect_url=url)

    def confirm(self, *, reference: str) -> Confirmation:
        checkout = DevCheckout.objects.filter(reference=reference).first()
        if checkout is None:
            raise PaymentRefused(_("The payment provider knows no such checkout."))
        paid = checkout.state == DevCheckout.State.PAID
        if paid and not hmac.compare_digest(checkout.signature, sign(_values(checkout))):
            raise PaymentRefused(_("The payment provider's signature is wrong."))
        return _confirmation(checkout, paid=paid)

    def verify(self, *, params: Mapping[str, str]) -> Confirmation:
        given = params.get("signature", "")
        values = {name: params.get(name, "") for name in SIGNED_FIELDS}
        if not given or not hmac.compare_digest(given, sign(values)):
            raise PaymentRefused(_("The payment provider's signature is wrong."))
        checkout = DevCheckout.objects.filter(reference=values["reference"]).first()
        if checkout is None or _values(checkout) != values:
            raise PaymentRefused(_("The payment provider knows no such checkout."))
        return _confirmation(checkout, paid=checkout.state == DevCheckout.State.PAID)


def _confirmation(checkout: DevCheckout, *, paid: bool) -> Confirmation:
    return Confirmation(
        reference=checkout.reference,
        paid=paid,
        amount=checkout.amount,
        currency=checkout.currency,
        order_id=checkout.order_id,
        cancelled=checkout.state == DevCheckout.State.CANCELLED,
    )


# --- the checkout page's own use cases (portal.views.devpay) ------------------------------------------


def dev_checkout_get(*, reference: str) -> DevCheckout | None:
    return DevCheckout.objects.select_related("order").filter(reference=reference).first()


def dev_checkout_pay(*, reference: str, card_number: str) -> DevCheckout:
    """The payer submits a test card: accepted, the checkout is paid and its outcome signed; declined or
    unknown, it stays open (``CardDeclined``, ``UnknownTestCard``)."""
    number = "".join(ch for ch in card_number if ch.isdigit())
    with transaction.atomic():
        checkout = _open_checkout(reference)
        verdict = TEST_CARDS.get(number)
        if verdict is None:
            raise UnknownTestCard()
        if verdict == DECLINED:
            raise CardDeclined()
        checkout.state = DevCheckout.State.PAID
        checkout.card_last4 = number[-4:]
        return _close(checkout)


def dev_checkout_cancel(*, reference: str) -> DevCheckout:
    with transaction.atomic():
        checkout = _open_checkout(reference)
        checkout.state = DevCheckout.State.CANCELLED
        return _close(checkout)


def _open_checkout(reference: str) -> DevCheckout:
    checkout = DevCheckout.objects.select_for_update().filter(reference=reference).first()
    if checkout is None:
        raise PaymentRefused(_("The payment provider knows no such checkout."))
    if checkout.state != DevCheckout.State.OPEN:
        raise CheckoutClosed()
    return checkout


def _close(checkout: DevCheckout) -> DevCheckout:
    checkout.completed_at = timezone.now()
    checkout.signature = sign(_values(checkout))
    checkout.save(update_fields=["state", "card_last4", "completed_at", "signature"])
    return checkout
