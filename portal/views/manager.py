"""The structure manager's pages: the structure's staff and their cards, and ordering CPE/CPA/CDE."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from cards.models import Card
from cards.scoping import cards_visible_to
from core.roles import Role
from core.web import for_roles
from orders import services as order_services
from orders.models import Order
from orders.scoping import orders_visible_to
from portal.forms import StructureOrderForm
from registry.models import Account, StructureMember


@for_roles(Role.STRUCTURE_MANAGER)
def structure(request: HttpRequest, account: Account) -> HttpResponse:
    cards = cards_visible_to(request.user).order_by("-valid_until")
    members = (
        StructureMember.objects.filter(structure=account.structure, is_active=True)
        .select_related("professional")
        .prefetch_related(Prefetch("professional__cards", queryset=cards, to_attr="structure_cards"))
        .order_by("professional__last_name", "professional__first_name")
    )
    open_orders = orders_visible_to(request.user).exclude(state__in=Order.FINAL_STATES)
    context = {
        "structure": account.structure,
        "members": members,
        "orders": open_orders.select_related("professional").order_by("-created_at")[:50],
        "live_states": Card.LIVE_STATES,
    }
    return render(request, "portal/manager/structure.html", context)


@for_roles(Role.STRUCTURE_MANAGER)
def structure_order(request: HttpRequest, account: Account) -> HttpResponse:
    assert account.structure_id is not None
    form = StructureOrderForm(
        request.POST if request.method == "POST" else None, structure_id=account.structure_id
    )
    if request.method == "POST" and form.is_valid():
        # Create and submit at once; a refusal (eligibility...) is told on this page by ``core.web``.
        order = order_services.order_place(
            actor=request.user,
            professional=form.cleaned_data["member"].professional,
            card_type=form.cleaned_data["card_type"],
            kind=Order.Kind.FIRST,
            structure=account.structure,
        )
        messages.success(request, _("The order is sent to ANS for review."))
        return redirect("portal:order", pk=order.pk)
    return render(request, "portal/manager/order_form.html", {"form": form, "structure": account.structure})
