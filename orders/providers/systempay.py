"""Lyra's payment form ("formulaire de paiement en redirection"), as sold by Systempay (Caisse d'Épargne,
Banque Populaire), PayZen, Sogecommerce: an adapter written against the published protocol.

The payer is sent to the provider with a form of ``vads_*`` fields posted to ``CPX_SYSTEMPAY_URL`` and a
``signature``: the values of the ``vads_*`` fields sorted by name, joined by "+", followed by "+" and the
shop's key, authenticated by HMAC-SHA-256 with that key and encoded in Base64 (``signature``). The provider
answers the same way, on the payer's return (``vads_return_mode=GET``) and in its notification (IPN, posted
to the shop's notification URL, configured in the provider's back office): ``verify`` checks that signature
with the fields received, and reads the outcome (``vads_trans_status``). Settings: ``CPX_SYSTEMPAY_SITE_ID``,
``CPX_SYSTEMPAY_KEY`` (the test or production key), ``CPX_SYSTEMPAY_MODE`` (``TEST``/``PRODUCTION``).

The form protocol has no "ask the status" call (that is the provider's REST API): ``confirm`` refuses, and
payments are recorded from the signed return or notification (``payment_services.payment_confirm_signed``).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import secrets
import string
from collections.abc import Mapping
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..errors import PaymentRefused
from ..payments import Checkout, Confirmation

# ISO 4217 numeric codes (vads_currency).
CURRENCIES = {"EUR": "978"}
CODES = {number: code for code, number in CURRENCIES.items()}
# vads_trans_status values for which the payment is made (AUTHORISED_TO_VALIDATE waits for a manual
# validation in the back office: not paid yet).
PAID_STATUSES = frozenset({"AUTHORISED", "CAPTURED", "ACCEPTED"})
CANCELLED_STATUSES = frozenset({"ABANDONED", "CANCELLED"})
_TRANS_ID_ALPHABET = string.digits + string.ascii_lowercase


def signature(fields: Mapping[str, str], key: str) -> str:
    """The protocol's signature (HMAC-SHA-256 variant) of ``fields``: only the ``vads_*`` ones count."""
    values = [str(fields[name]) for name in sorted(fields) if name.startswith("vads_")]
    message = "+".join([*values, key])
    digest = hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def reference_of(fields: Mapping[str, str]) -> str:
    """One transaction: the shop, the day and the transaction number (unique per shop and day)."""
    return f"{fields['vads_site_id']}-{fields['vads_trans_date'][:8]}-{fields['vads_trans_id']}"


class SystempayProvider:
    """``orders.payments.PaymentProvider`` and ``SignedReturns`` for Lyra's payment form."""

    def __init__(
        self,
        *,
        site_id: str | None = None,
        key: str | None = None,
        mode: str | None = None,
        url: str | None = None,
    ) -> None:
        self.site_id = site_id if site_id is not None else settings.CPX_SYSTEMPAY_SITE_ID
        self.key = key if key is not None else settings.CPX_SYSTEMPAY_KEY
        self.mode = mode if mode is not None else settings.CPX_SYSTEMPAY_MODE
        self.url = url if url is not None else settings.CPX_SYSTEMPAY_URL

    def form_fields(
        self,
        *,
        order_id: int,
        amount: Decimal,
        currency: str,
        return_url: str,
        now: datetime.datetime | None = None,
        trans_id: str | None = None,
    ) -> dict[str, str]:
        if currency not in CURRENCIES:
            raise PaymentRefused(_("The payment was not made in euros."))
        moment = now or timezone.now()
        fields = {
            "vads_action_mode": "INTERACTIVE",
            "vads_amount": str(int((Decimal(amount) * 100).quantize(Decimal("1")))),
            "vads_ctx_mode": self.mode,
            "vads_currency": CURRENCIES[currency],
            "vads_language": "fr",
            "vads_order_id": str(order_id),
            "vads_page_action": "PAYMENT",
            "vads_payment_config": "SINGLE",
            "vads_return_mode": "GET",
            "vads_site_id": self.site_id,
            "vads_trans_date": moment.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%S"),
            "vads_trans_id": trans_id or "".join(secrets.choice(_TRANS_ID_ALPHABET) for _ in range(6)),
            "vads_url_return": return_url,
            "vads_version": "V2",
        }
        return {**fields, "signature": signature(fields, self.key)}

    def start(self, *, order_id: int, amount: Decimal, currency: str, return_url: str) -> Checkout:
        fields = self.form_fields(order_id=order_id, amount=amount, currency=currency, return_url=return_url)
        return Checkout(reference=reference_of(fields), redirect_url=self.url, form_fields=fields)

    def confirm(self, *, reference: str) -> Confirmation:
        raise PaymentRefused(_("This provider reports payments by its signed return and notification only."))

    def verify(self, *, params: Mapping[str, str]) -> Confirmation:
        given = params.get("signature", "")
        fields = {name: value for name, value in params.items() if name.startswith("vads_")}
        if not given or not hmac.compare_digest(given, signature(fields, self.key)):
            raise PaymentRefused(_("The payment provider's signature is wrong."))
        if fields.get("vads_site_id") != self.site_id or fields.get("vads_ctx_mode") != self.mode:
            raise PaymentRefused(_("This payment was made to another shop."))
        try:
            amount = Decimal(fields["vads_amount"]) / 100
            order_id = int(fields["vads_order_id"])
            reference = reference_of(fields)
        except (KeyError, ValueError, ArithmeticError):
            raise PaymentRefused(_("The payment provider's answer is incomplete.")) from None
        status = fields.get("vads_trans_status", "")
        return Confirmation(
            reference=reference,
            paid=status in PAID_STATUSES,
            amount=amount,
            currency=CODES.get(fields.get("vads_currency", ""), fields.get("vads_currency", "")),
            order_id=order_id,
            cancelled=status in CANCELLED_STATUSES,
        )
