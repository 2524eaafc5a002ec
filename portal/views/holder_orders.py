"""The holder orders cards: a first card (CPS or CPF) for each eligible exercise, the rules explained before
anything is sent; a draft submitted; a new order after a rejected (or cancelled) one, pre-filled from it.

Each POST calls one service (``orders.services``); a refusal (eligibility, a state that moved on) comes back
to the page it was sent from as a message (``core.web``)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from core.roles import Role
from core.web import for_roles
from orders import eligibility
from orders import services as order_services
from orders.models import Order
from orders.payments import tariff_on
from orders.scoping import orders_visible_to
from portal.forms_holder import FirstCardForm, ReorderForm, choice_value
from registry.models import Account

# A new order may follow one that ended without a card.
REORDER_STATES = (Order.State.REJECTED, Order.State.CANCELLED)


def fee_context() -> dict[str, Any]:
    """What the pages say of the fee: a first card is free; the replacement fee in force today."""
    tariff = tariff_on(timezone.localdate())
    return {"replacement_fee": tariff.amount if tariff else None}


@for_roles(Role.HOLDER)
def order_new(request: HttpRequest, account: Account) -> HttpResponse:
    """Order a first card: each exercise with what it may have and why not. The form offers only the cards
    that may be ordered now; "save as draft" keeps the order without sending it."""
    assert account.professional is not None
    eligibilities = eligibility.first_cards_for(account.professional)
    data = request.POST if request.method == "POST" else None
    form = FirstCardForm(data, eligibilities=eligibilities, initial=prefill(request))
    if request.method == "POST" and form.is_valid():
        return place(request, account, form)
    context = {"form": form, "eligibilities": eligibilities, **fee_context()}
    return render(request, "portal/holder/order_new.html", context)


def prefill(request: HttpRequest) -> dict[str, str]:
    """The choice named in the address (``?exercise=&card_type=``: "order again" links here)."""
    exercise, card_type = request.GET.get("exercise", ""), request.GET.get("card_type", "")
    return {"choice": choice_value(int(exercise), card_type)} if exercise.isdigit() and card_type else {}


def place(request: HttpRequest, account: Account, form: FirstCardForm) -> HttpResponse:
    chosen, card_type = form.chosen()
    fields: dict[str, Any] = {
        "actor": request.user,
        "professional": account.professional,
        "card_type": card_type,
        "kind": Order.Kind.FIRST,
        "exercise": chosen.exercise,
    }
    if request.POST.get("action") == "draft":
        order = order_services.order_create(**fields)
        messages.success(request, _("Your order is saved as a draft: it is sent only when you submit it."))
    else:
        order = order_services.order_place(**fields)
        messages.success(request, sent_message(order))
    return redirect("portal:order", pk=order.pk)


def sent_message(order: Order) -> str:
    return _("Your order is sent to %(authority)s for review.") % {"authority": order.authority.name}


@for_roles(Role.HOLDER)
def order_again(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """A new order for the card a rejected (or cancelled) order asked for. A first card goes to the order
    form with the same choice made; a replacement, renewal or update is confirmed here (a replacement's
    reason pre-selected, and changeable)."""
    previous = get_object_or_404(
        orders_visible_to(request.user).select_related("exercise__profession", "replaces", "authority"),
        pk=pk,
        state__in=REORDER_STATES,
    )
    if previous.kind == Order.Kind.FIRST and previous.exercise_id:
        query = urlencode({"exercise": str(previous.exercise_id), "card_type": previous.card_type})
        return redirect(f"{reverse('portal:order-new')}?{query}")
    replacement = previous.kind == Order.Kind.REPLACEMENT
    data = request.POST if request.method == "POST" else None
    form = ReorderForm(
        data, replacement=replacement, initial={"replacement_reason": previous.replacement_reason}
    )
    if request.method == "POST" and form.is_valid():
        order = order_services.order_place(
            actor=request.user,
            professional=previous.professional,
            card_type=previous.card_type,
            kind=previous.kind,
            exercise=previous.exercise,
            structure=previous.structure,
            replacement_reason=form.cleaned_data.get("replacement_reason", ""),
            replaces=previous.replaces,
        )
        messages.success(request, sent_message(order))
        return redirect("portal:order", pk=order.pk)
    context = {"previous": previous, "form": form, "paid_reasons": Order.PAID_REASONS, **fee_context()}
    return render(request, "portal/holder/order_again.html", context)
