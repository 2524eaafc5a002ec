"""The explanation of an order the registry drove (issue 16), shown on the holder's and the operators'
order pages: why it was placed or proposed (``orders.decisions``), the card beside the registry for an
update, and, to the holder or the structure's manager, the two buttons answering a proposal."""

from __future__ import annotations

from typing import Any

from django import template

from core.roles import HOLDER_SIDE, role_of
from orders.decisions import decision_text, situation_rows
from orders.models import Order

register = template.Library()


@register.inclusion_tag("portal/partials/order_decision.html", takes_context=True)
def order_decision(context: template.Context, order: Order) -> dict[str, Any]:
    request = context["request"]
    shown = order.origin != Order.Origin.REQUESTED
    return {
        "order": order,
        "shown": shown,
        "text": decision_text(order.decision) if shown else "",
        "rows": situation_rows(order.situation_diff) if shown else [],
        "holder_side": role_of(request.user) in HOLDER_SIDE,
        "answerable": shown and is_open_proposal(order) and role_of(request.user) in HOLDER_SIDE,
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def is_open_proposal(order: Order) -> bool:
    """A proposal not answered yet: a draft the platform proposed."""
    return order.origin == Order.Origin.PROPOSED and order.state == Order.State.DRAFT
