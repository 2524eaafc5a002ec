"""Paying for an order: the online checkout and the return from it, the provider's notification, the invoice.

The payment panel of an order's page (``portal/partials/payment_panel.html``, ``payment_tags``) offers these:
the online payment when a provider is configured, the transfer's details and the cheque's address always.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.roles import BACK_OFFICE, HOLDER_SIDE
from core.web import for_roles
from orders import payment_services
from orders.invoices import invoice_filename, invoice_pdf
from orders.models import Payment
from orders.payments import SignedReturns, configured_provider
from portal.views.holder import visible_orders
from registry.models import Account


@require_POST
@for_roles(*HOLDER_SIDE)
def order_pay(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """Online payment, when a provider is configured: off to its checkout, back to the return page (who
    pays is ``payment_start_online``'s rule: the holder, or the manager for their structure's staff). A
    provider opened by a posted form (Lyra/Systempay) gets a page with that form to send."""
    order = get_object_or_404(visible_orders(request), pk=pk)
    return_url = request.build_absolute_uri(reverse("portal:order-paid", args=[order.pk]))
    checkout = payment_services.payment_start_online(order=order, actor=request.user, return_url=return_url)
    if checkout.form_fields:
        context = {"order": order, "checkout": checkout, "fields": sorted(checkout.form_fields.items())}
        return render(request, "portal/payment/redirect.html", context)
    return redirect(checkout.redirect_url)


@for_roles(*HOLDER_SIDE)
def order_paid(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """The provider sends the payer back here (a GET from its site): the payment is confirmed (from the
    signed parameters for a provider that signs them, else by asking it), and the payer told on the order's
    page either way. The one page that answers a domain error itself: ``core.web`` would send a GET with no
    page of this site to go back to to the same address again."""
    order = get_object_or_404(visible_orders(request), pk=pk)
    provider = configured_provider()
    try:
        if isinstance(provider, SignedReturns) and "signature" in request.GET:
            params = {name: request.GET.get(name, "") for name in request.GET}
            payment_services.payment_confirm_signed(order=order, params=params, provider=provider)
        else:
            reference = request.GET.get("reference", "")
            payment_services.payment_confirm_online(order=order, reference=reference, provider=provider)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Payment received, thank you. The card goes into production."))
    return redirect("portal:order", pk=order.pk)


@csrf_exempt
@require_POST
def payment_notify(request: HttpRequest) -> HttpResponse:
    """The provider's notification (IPN), server to server: signed, so believed only once verified; the
    payment is recorded once whatever the payer's browser does. Plain text answers, as providers expect."""
    provider = configured_provider()
    if not isinstance(provider, SignedReturns):
        raise Http404
    params = {name: request.POST.get(name, "") for name in request.POST}
    try:
        payment_services.payment_confirm_signed(params=params, provider=provider)
    except DomainError as error:
        return HttpResponse(f"refused: {error.code}", status=400, content_type="text/plain")
    return HttpResponse("OK", content_type="text/plain")


@for_roles(*HOLDER_SIDE, *BACK_OFFICE)
def invoice(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    order = get_object_or_404(visible_orders(request), pk=pk)
    payment = Payment.objects.filter(order=order).select_related("order__professional").first()
    if payment is None:
        raise Http404
    response = HttpResponse(invoice_pdf(payment), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice_filename(payment)}"'
    return response
