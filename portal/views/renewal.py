"""Receiving a card and renewing one: the holder's confirmations, each a single lifecycle service."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cards.scoping import cards_visible_to
from core.roles import HOLDER_SIDE, Role
from core.web import for_roles
from lifecycle import renewal
from lifecycle.activation import card_activate as activate
from lifecycle.errors import RenewalLinkExpired, RenewalLinkInvalid
from portal.cardface import card_face
from registry.models import Account


@require_POST
@for_roles(*HOLDER_SIDE)
def card_activate(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """The holder confirms the card arrived: it becomes active (and the card it replaces is withdrawn)."""
    card = get_object_or_404(cards_visible_to(request.user), pk=pk)
    activate(card=card, actor=request.user, method="confirmation")
    messages.success(request, _("The card is active. Your PIN arrives in a separate letter."))
    return redirect("portal:card", pk=card.pk)


@for_roles(Role.HOLDER)
def renew(request: HttpRequest, token: str, account: Account) -> HttpResponse:
    """The page behind the reminder's renewal link: the card it names, and one button to confirm.

    A link that is not valid (or no longer) is this page's own answer, not an error to send the holder
    back from: there is no page to go back to."""
    try:
        reminder = renewal.renewal_link_reminder(token=token)
    except (RenewalLinkInvalid, RenewalLinkExpired) as error:
        return render(request, "portal/holder/renew.html", {"error": error.message}, status=410)
    card = cards_visible_to(request.user).filter(pk=reminder.card_id).first()
    if card is None:
        raise Http404
    if request.method == "POST":
        order = renewal.renewal_link_confirm(token=token, actor=request.user)
        messages.success(request, _("Your renewal is ordered."))
        return redirect("portal:order", pk=order.pk)
    context = {"card": card, "face": card_face(card), "used": reminder.link_used_at is not None}
    return render(request, "portal/holder/renew.html", context)
