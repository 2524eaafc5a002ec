"""Receiving a card and renewing one: the holder's confirmations, each a single lifecycle service."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from cards.models import Card
from cards.scoping import cards_visible_to
from core.roles import HOLDER_SIDE, Role, account_of
from core.web import for_roles
from lifecycle import activation, renewal
from lifecycle.errors import RenewalLinkExpired, RenewalLinkInvalid
from orders.scoping import orders_visible_to
from portal.cardface import card_face
from registry.models import Account


@for_roles(*HOLDER_SIDE)
def card_activate(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """Activating a shipped card: the page gives the exact command that signs a challenge with the card
    (``cpx-card sign``, run on the holder's computer, where the agent asks for the PIN) and takes what it
    printed; or, only where the card's authority allows it, a confirmation of receipt. Each POST answers
    with a redirect; a refusal comes back to this page as a message (``core.web``)."""
    card = get_object_or_404(cards_visible_to(request.user), pk=pk)
    if request.method == "POST":
        return _activation_step(request, card)
    challenge = activation.open_challenge(card)
    context = {
        "card": card,
        "activable": card.state == Card.State.SHIPPED,
        "challenge": challenge,
        "command": activation.sign_command(challenge) if challenge else "",
        "receipt_allowed": activation.receipt_confirmation_allowed(card),
    }
    return render(request, "portal/holder/activate.html", context)


def _activation_step(request: HttpRequest, card: Card) -> HttpResponse:
    action = request.POST.get("action", "")
    if action == "prove":
        activation.card_activate_with_proof(
            card=card,
            actor=request.user,
            challenge=request.POST.get("challenge", ""),
            signature=request.POST.get("signature", ""),
        )
    elif action == "confirm_receipt":
        activation.card_confirm_receipt(card=card, actor=request.user)
    else:
        activation.activation_challenge(card=card, actor=request.user)
        return redirect("portal:card-activate", pk=card.pk)
    messages.success(request, _("The card is active."))
    return redirect("portal:card", pk=card.pk)


@require_http_methods(["GET", "POST"])
def renew(request: HttpRequest) -> HttpResponse:
    """The page behind the reminder's renewal link, ``/renew/#<token>``: the token is in the URL's
    fragment, which the browser never sends, so it reaches no access log. The page (public: it shows
    nothing of anyone) has its script (``portal/renew.js``) post the token; a holder signs in first if
    needed (the script keeps the token in the tab's session storage meanwhile). The POST shows the card the
    link names, and one button to confirm, which posts the token again."""
    if request.method == "POST":
        return _renew_step(request)
    holder = request.user.is_authenticated and getattr(account_of(request.user), "role", None) == Role.HOLDER
    context = {"opening": True, "signed_in": holder, "login_url": _login_url()}
    return _no_store(render(request, "portal/holder/renew.html", context))


@for_roles(Role.HOLDER)
def _renew_step(request: HttpRequest, account: Account) -> HttpResponse:
    """A link that is not valid (or no longer) is this page's own answer, not an error to send the holder
    back from: there is no page to go back to."""
    token = request.POST.get("token", "")
    try:
        reminder = renewal.renewal_link_reminder(token=token)
    except (RenewalLinkInvalid, RenewalLinkExpired) as error:
        return _no_store(render(request, "portal/holder/renew.html", {"error": error.message}, status=410))
    card = cards_visible_to(request.user).filter(pk=reminder.card_id).first()
    if card is None:
        raise Http404
    if request.POST.get("step") == "confirm":
        order = renewal.renewal_link_confirm(token=token, actor=request.user)
        messages.success(request, _("Your renewal is ordered."))
        return redirect("portal:order", pk=order.pk)
    context = {"card": card, "face": card_face(card), "used": reminder.link_used_at is not None}
    return _no_store(render(request, "portal/holder/renew.html", context))


@require_http_methods(["GET", "POST"])
def renew_decline(request: HttpRequest) -> HttpResponse:
    """The page behind the reminder's second link, ``/renew/decline/#<token>``: the holder declines the
    renewal (leaving practice). As the renewal link's page: the token in the fragment, posted by the
    page's script (``portal/renew.js``); the POST shows the card and one button to decline."""
    if request.method == "POST":
        return _decline_step(request)
    holder = request.user.is_authenticated and getattr(account_of(request.user), "role", None) == Role.HOLDER
    context = {"opening": True, "signed_in": holder, "login_url": _login_url("portal:renew-decline")}
    return _no_store(render(request, "portal/holder/renew_decline.html", context))


@for_roles(Role.HOLDER)
def _decline_step(request: HttpRequest, account: Account) -> HttpResponse:
    token = request.POST.get("token", "")
    try:
        reminder = renewal.renewal_decline_reminder(token=token)
    except (RenewalLinkInvalid, RenewalLinkExpired) as error:
        refused = {"error": error.message}
        return _no_store(render(request, "portal/holder/renew_decline.html", refused, status=410))
    card = cards_visible_to(request.user).filter(pk=reminder.card_id).first()
    if card is None:
        raise Http404
    if request.POST.get("step") == "confirm":
        renewal.renewal_decline(token=token, actor=request.user)
        messages.success(request, _("The renewal of your card is declined: no new card will be made."))
        return redirect("portal:card", pk=card.pk)
    context = {"card": card, "face": card_face(card), "used": reminder.declined_at is not None}
    return _no_store(render(request, "portal/holder/renew_decline.html", context))


@for_roles(Role.HOLDER)
@require_http_methods(["POST"])
def order_decline_renewal(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """The holder's order page: declining a renewal the platform placed (``renewal.renewal_declinable``)."""
    order = get_object_or_404(orders_visible_to(request.user), pk=pk)
    renewal.renewal_decline_order(order=order, actor=request.user)
    messages.success(request, _("The renewal of your card is declined: no new card will be made."))
    return redirect("portal:order", pk=pk)


def renew_legacy(request: HttpRequest, token: str) -> HttpResponse:
    """The old form of the link, with the token in the path: refused (410) without reading the token,
    which has reached the server's logs already; the holder renews from the card's page."""
    context = {
        "error": _("This renewal link is no longer valid: renew the card from its page in your space.")
    }
    return _no_store(render(request, "portal/holder/renew.html", context, status=410))


def _login_url(name: str = "portal:renew") -> str:
    return f"{reverse('login')}?{urlencode({'next': reverse(name)})}"


def _no_store(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)  # a page that carries a one-time token: no copy in any cache
    return response
