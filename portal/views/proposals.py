"""A card the registry's news made the platform propose (issue 16: a draft order of origin ``proposed``):
the holder, or the structure's manager for a structure card, confirms it or declines it in one click.
Confirming submits the draft as they would (``orders.services.order_submit``); declining cancels it."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.roles import HOLDER_SIDE
from core.web import for_roles
from orders import services as order_services
from orders.models import Order
from orders.scoping import orders_visible_to
from portal.views.holder_orders import sent_message
from registry.models import Account


def proposals(request: HttpRequest) -> QuerySet[Order]:
    """The proposals the person may answer (a proposal already answered is told so by the transition)."""
    return orders_visible_to(request.user).filter(origin=Order.Origin.PROPOSED)


@require_POST
@for_roles(*HOLDER_SIDE)
def proposal_confirm(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    order = get_object_or_404(proposals(request), pk=pk)
    order = order_services.order_submit(order=order, actor=request.user)
    if order.state == Order.State.SUBMITTED:
        messages.success(request, sent_message(order))
    else:
        messages.success(request, _("Thank you: the card is ordered."))
    return redirect("portal:order", pk=order.pk)


@require_POST
@for_roles(*HOLDER_SIDE)
def proposal_decline(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    order = get_object_or_404(proposals(request), pk=pk)
    order_services.order_cancel(order=order, actor=request.user, reason=_("Proposal declined"))
    messages.success(request, _("The proposal is declined: no card is ordered."))
    return redirect("portal:order", pk=order.pk)
