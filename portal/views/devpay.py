"""The development payment provider's checkout page (``orders.providers.dev``), under ``/dev-payments/``.

It stands for a provider's site: reached by the checkout's unguessable reference (no sign-in: a provider does
not know the platform's accounts), it takes a test card, notifies the platform as a provider would (the
signed parameters, checked by ``payment_confirm_signed``) and sends the payer back to the return address.
Every page answers 404 unless the development provider is the configured one.
"""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.errors import DomainError
from orders import payment_services
from orders.models import DevCheckout
from orders.providers import dev

log = logging.getLogger(__name__)


def checkout(request: HttpRequest, reference: str) -> HttpResponse:
    if not dev.is_configured():
        raise Http404
    found = dev.dev_checkout_get(reference=reference)
    if found is None:
        raise Http404
    error = ""
    if request.method == "POST" and found.state == DevCheckout.State.OPEN:
        try:
            if request.POST.get("action") == "cancel":
                closed = dev.dev_checkout_cancel(reference=reference)
            else:
                closed = dev.dev_checkout_pay(
                    reference=reference, card_number=request.POST.get("card_number", "")
                )
        except DomainError as refused:
            error = refused.message
        else:
            _notify(closed)
            return redirect(dev.return_url(closed))
    context = {
        "checkout": found,
        "error": error,
        "test_cards": [(number, verdict) for number, verdict in dev.TEST_CARDS.items()],
        "return_url": dev.return_url(found) if found.state != DevCheckout.State.OPEN else "",
    }
    return render(request, "portal/devpay/checkout.html", context)


def _notify(closed: DevCheckout) -> None:
    """The provider's notification to the platform (a real one posts it to ``portal:payment-notify``): the
    payment is recorded even if the payer never comes back."""
    if closed.state != DevCheckout.State.PAID:
        return
    try:
        payment_services.payment_confirm_signed(params=dev.signed_params(closed), provider=dev.DevProvider())
    except DomainError as error:  # the payer's return says it again
        log.warning("dev checkout %s: notification refused: %s", closed.reference, error.code)
