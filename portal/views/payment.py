"""Paying for an order: the online checkout and the return from it, the invoice."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.roles import BACK_OFFICE, HOLDER_SIDE
from core.web import for_roles
from orders import payment_services
from orders.invoices import invoice_filename, invoice_pdf
from orders.models import Payment
from portal.views.holder import visible_orders
from registry.models import Account


@require_POST
@for_roles(*HOLDER_SIDE)
def order_pay(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """Online payment, when a provider is configured: off to its checkout, back to the return page (who
    pays is ``payment_start_online``'s rule: the holder, or the manager for their structure's staff)."""
    order = get_object_or_404(visible_orders(request), pk=pk)
    return_url = request.build_absolute_uri(reverse("portal:order-paid", args=[order.pk]))
    checkout = payment_services.payment_start_online(order=order, actor=request.user, return_url=return_url)
    return redirect(checkout.redirect_url)


@for_roles(*HOLDER_SIDE)
def order_paid(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """The provider sends the payer back here (a GET from its site): the payment is confirmed, and the
    payer told on the order's page either way. The one page that answers a domain error itself:
    ``core.web`` would send a GET with no page of this site to go back to to the same address again."""
    order = get_object_or_404(visible_orders(request), pk=pk)
    reference = request.GET.get("reference", "")
    try:
        payment_services.payment_confirm_online(order=order, reference=reference)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Payment received, thank you. The card goes into production."))
    return redirect("portal:order", pk=order.pk)


@for_roles(*HOLDER_SIDE, *BACK_OFFICE)
def invoice(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    order = get_object_or_404(visible_orders(request), pk=pk)
    payment = Payment.objects.filter(order=order).select_related("order__professional").first()
    if payment is None:
        raise Http404
    response = HttpResponse(invoice_pdf(payment), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice_filename(payment)}"'
    return response
