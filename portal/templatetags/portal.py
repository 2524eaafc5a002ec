"""Template helpers of the portal: the navigation of the signed-in role, and small formatting filters."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.roles import Role, role_of
from orders.models import Order

register = template.Library()

NAV: dict[str, list[tuple[str, Any]]] = {
    Role.HOLDER: [
        ("portal:cards", _("My cards")),
        ("portal:orders", _("My orders")),
        ("portal:messages", _("Messages")),
    ],
    Role.STRUCTURE_MANAGER: [
        ("portal:structure", _("Staff and cards")),
        ("portal:structure-order", _("Order a card")),
        ("portal:structure-staff-new", _("Declare a staff member")),
        ("portal:structure-batch", _("Order in batch")),
    ],
    Role.AUTHORITY_OPERATOR: [
        ("portal:dashboard", _("Dashboard")),
        ("portal:queue", _("Order queue")),
        ("portal:overdue", _("Overdue orders")),
        ("portal:bo-holders", _("Registry")),
        ("portal:bo-codes", _("Codes help desk")),
        ("portal:approvals", _("Approvals")),
        ("portal:policies", _("Issuance policies")),
    ],
    Role.ANS_OPERATOR: [
        ("portal:dashboard", _("Dashboard")),
        ("portal:queue", _("Order queue")),
        ("portal:overdue", _("Overdue orders")),
        ("portal:bo-holders", _("Registry")),
        ("portal:production", _("Production")),
        ("portal:shipping", _("Shipping")),
        ("portal:imports", _("Registry imports")),
        ("portal:print-runs", _("Print runs")),  # operators
        ("portal:bo-codes", _("Codes help desk")),
        ("portal:approvals", _("Approvals")),
        ("portal:reconcile", _("Bank reconciliation")),  # payments
        ("portal:webhooks", _("Webhooks")),  # relying parties told at once (notifications.webhooks)
        ("portal:policies", _("Issuance policies")),
    ],
    Role.AUDITOR: [
        ("portal:dashboard", _("Dashboard")),
        ("portal:queue", _("Order queue")),
        ("portal:overdue", _("Overdue orders")),
        ("portal:bo-holders", _("Registry")),
        ("portal:approvals", _("Approvals")),
    ],
}


# What each order event means, in the reader's language (event rows store the transition's name).
TRANSITIONS = {
    "create": _("order created"),
    "submit": _("submitted for review"),
    "approve": _("approved"),
    "reject": _("rejected"),
    "request_payment": _("payment requested"),
    "record_payment": _("payment recorded"),
    "queue": _("sent to production"),
    "cancel": _("cancelled"),
    "start_production": _("production started"),
    "mark_produced": _("card made"),
    "mark_failed": _("production failure"),
    "requeue": _("sent back to production"),
    "reroute": _("moved to another authority"),
}


@register.simple_tag(takes_context=True)
def portal_nav(context: template.Context) -> list[dict[str, Any]]:
    request = context["request"]
    items = NAV.get(role_of(request.user) or "", [])
    links = [{"url": reverse(name), "label": label, "current": False} for name, label in items]
    # The current section is the longest link the page's address starts with (/backoffice/ is the queue,
    # and also the prefix of every back-office page).
    matching = [link for link in links if request.path.startswith(link["url"])]
    if matching:
        max(matching, key=lambda link: len(link["url"]))["current"] = True
    return links


@register.filter
def card_expiry(value: Any) -> str:
    """The expiry as printed on the plastic: month and year."""
    return f"{value:%m/%Y}" if value else ""


@register.filter
def days_since(value: Any) -> int:
    return (timezone.now() - value).days if value else 0


@register.filter
def order_state_label(value: str) -> str:
    """An order state's name in the reader's language (event rows store the code)."""
    try:
        return str(Order.State(value).label)
    except ValueError:
        return value


@register.filter
def role_label(value: str) -> str:
    try:
        return str(Role(value).label)
    except ValueError:
        return value


@register.filter
def transition_label(value: str) -> str:
    return str(TRANSITIONS.get(value, value))


@register.filter
def money(value: Any, currency: str = "EUR") -> str:
    """An amount the one way the portal writes it: ``36,00 €`` in French, ``€36.00`` in English."""
    from core.formats import format_money

    return format_money(value, currency)
