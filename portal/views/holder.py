"""The holder's pages: cards (with the printed face), declaring a card lost or stolen, orders, payment,
invoices, messages. Structure managers share the card pages for their staff's cards."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Case, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cards.models import Card
from cards.scoping import cards_visible_to
from core.roles import HOLDER_SIDE, OPERATORS, Role
from core.transitions import allowed
from core.web import for_roles
from lifecycle.opposition import card_declare_opposition, declare_channels
from lifecycle.renewal import renewal_declinable
from lifecycle.timeline import order_timeline
from notifications import services as inbox_services
from notifications.models import Notification
from notifications.rendering import render_notification
from orders import eligibility
from orders import services as order_services
from orders.models import Order
from orders.payments import configured_provider
from orders.scoping import orders_visible_to
from portal.cardface import card_face
from portal.forms import DeclareForm, OperatorDeclareForm
from portal.views.holder_orders import REORDER_STATES, sent_message
from registry.models import Account


def visible_cards(request: HttpRequest) -> QuerySet[Card]:
    related = ("professional", "exercise__profession", "structure")
    return cards_visible_to(request.user).select_related(*related)


def visible_orders(request: HttpRequest) -> QuerySet[Order]:
    return orders_visible_to(request.user).select_related("professional", "authority", "replaces")


@for_roles(Role.HOLDER)
def cards(request: HttpRequest, account: Account) -> HttpResponse:
    """The holder's cards; with none yet, the first cards they may order (and why not), explained."""
    assert account.professional is not None
    items = [(card, card_face(card)) for card in visible_cards(request).order_by("-valid_until", "-id")]
    eligibilities = [] if items else eligibility.first_cards_for(account.professional)
    context = {
        "items": items,
        "eligibilities": eligibilities,
        "may_order": any(e.eligible for e in eligibilities),
    }
    return render(request, "portal/holder/cards.html", context)


@for_roles(*HOLDER_SIDE)
def card_detail(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    card = get_object_or_404(visible_cards(request), pk=pk)
    may = allowed(card, request.user)  # what the card's machine lets this person do now
    context = {
        "card": card,
        "face": card_face(card),
        "opposition": getattr(card, "opposition", None),
        "replacements": visible_orders(request).filter(replaces=card),
        "can_activate": "activate" in may,
        "can_declare": "oppose" in may,
        "unpaid_states": (Order.State.DRAFT, Order.State.SUBMITTED, Order.State.APPROVED),
    }
    return render(request, "portal/holder/card_detail.html", context)


@for_roles(*HOLDER_SIDE, *OPERATORS)
def card_declare(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """Two steps: choose what happened, then confirm (the opposition cannot be undone). Holders and
    managers declare online; operators record a declaration made by phone or form 501."""
    card = get_object_or_404(visible_cards(request), pk=pk)
    by_operator = account.role in OPERATORS
    data = request.POST if request.method == "POST" else None
    form = (
        OperatorDeclareForm(data, channels=declare_channels(request.user))
        if by_operator
        else DeclareForm(data)
    )
    back = reverse("portal:bo-holder", args=[card.professional_id]) if by_operator else card_url(card)
    context: dict[str, Any] = {"card": card, "form": form, "back": back}
    if request.method != "POST" or not form.is_valid():
        return render(request, "portal/holder/declare.html", context)
    reason = form.cleaned_data["reason"]
    channel = form.cleaned_data.get("channel", "online")
    if "confirm" not in request.POST:
        label = Order.ReplacementReason(reason).label
        context.update(reason=reason, reason_label=label, channel=channel, confirming=True)
        return render(request, "portal/holder/declare.html", context)
    card_declare_opposition(card=card, reason=reason, actor=request.user, channel=channel)
    messages.success(request, _("The card is blocked: nobody can use it any more."))
    return redirect(back)


def card_url(card: Card) -> str:
    return reverse("portal:card", args=[card.pk])


@for_roles(Role.HOLDER)
def orders(request: HttpRequest, account: Account) -> HttpResponse:
    items = visible_orders(request).select_related("exercise__profession")
    # Issue 16: a card proposed and not answered yet comes first, to be confirmed or declined.
    proposal = Q(origin=Order.Origin.PROPOSED, state=Order.State.DRAFT)
    first = Case(When(proposal, then=Value(0)), default=Value(1))
    items = items.order_by(first, "-created_at", "-id")
    return render(request, "portal/holder/orders.html", {"orders": items})


@for_roles(*HOLDER_SIDE)
def order_detail(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """The order and its one timeline (``lifecycle.timeline``); what the holder may do with it now: submit a
    draft (with the rules it does not meet yet, told before sending), cancel, order again after a
    rejection, pay (the payment panel)."""
    order = get_object_or_404(visible_orders(request).select_related("produced_card"), pk=pk)
    may = allowed(order, request.user)
    is_draft = order.state == Order.State.DRAFT
    context = {
        "order": order,
        "timeline": order_timeline(order=order),
        "payment": getattr(order, "payment", None),
        "online_payment": configured_provider() is not None,
        "cancellable": "cancel" in may,
        "submittable": is_draft and "submit" in may,
        "draft_reasons": eligibility.check(order) if is_draft else [],
        "reorderable": order.state in REORDER_STATES and account.role == Role.HOLDER,
        "declinable": renewal_declinable(order, request.user),  # issue 16: a renewal the platform placed
    }
    return render(request, "portal/holder/order_detail.html", context)


@require_POST
@for_roles(*HOLDER_SIDE)
def order_submit(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    order = get_object_or_404(orders_visible_to(request.user), pk=pk)
    order = order_services.order_submit(order=order, actor=request.user)
    messages.success(request, sent_message(order))
    return redirect("portal:order", pk=order.pk)


@require_POST
@for_roles(*HOLDER_SIDE)
def order_cancel(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    order = get_object_or_404(visible_orders(request), pk=pk)
    order_services.order_cancel(order=order, actor=request.user, reason=_("Cancelled by the holder"))
    messages.success(request, _("The order is cancelled."))
    return redirect("portal:order", pk=order.pk)


@for_roles(Role.HOLDER)
def inbox(request: HttpRequest, account: Account) -> HttpResponse:
    found = inbox_services.inbox(professional=account.professional).order_by("-created_at", "-id")
    items = [with_text(n) for n in found.select_related("recipient")[:200]]
    return render(request, "portal/holder/messages.html", {"notifications": items})


def with_text(notification: Notification) -> Notification:
    rendered = render_notification(notification)
    notification.subject, notification.body = rendered.subject, rendered.body  # type: ignore[attr-defined]
    return notification


@require_POST
@for_roles(Role.HOLDER)
def message_read(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    notification = get_object_or_404(inbox_services.inbox(professional=account.professional), pk=pk)
    notification = inbox_services.notification_mark_read(notification=notification)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "portal/holder/message_row.html", {"n": with_text(notification)})
    return redirect("portal:messages")


@require_POST
@for_roles(Role.HOLDER)
def messages_read_all(request: HttpRequest, account: Account) -> HttpResponse:
    assert account.professional is not None
    inbox_services.inbox_mark_all_read(professional=account.professional)
    return redirect("portal:messages")
