"""Codes without a stored PUK, in the portal (``lifecycle.codes``): the holder asks for their codes letter
again (signing in again with their password), and the back office's help desk re-issues a codes letter
for a holder or unblocks a card by phone (challenge-response), each decided by a second person on the
approvals pages. The help-desk response is shown once, to the operator who opened the request."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from cards.errors import CardNotFound
from cards.models import Card
from core.roles import OPERATORS, Role
from core.web import for_roles
from lifecycle import codes, helpdesk
from lifecycle.models import CodesReissue, UnblockRequest
from pki import unblock
from portal.forms import AccessibleForm
from registry.models import Account

IDENTITY_HELP = _(
    "What you checked, and how: questions asked and answers checked in the registry, identity document, "
    "call back to the known number… At least 10 characters; kept with the request."
)


class PasswordForm(AccessibleForm):
    password = forms.CharField(
        label=_("Your password"),
        help_text=_("To check that it is really you: the password of your CPx account."),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ReissueForm(AccessibleForm):
    identity_check = forms.CharField(
        label=_("Identity check"),
        help_text=IDENTITY_HELP,
        min_length=codes.MIN_IDENTITY_CHECK,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class UnblockForm(ReissueForm):
    challenge = forms.CharField(
        label=_("Challenge read by the holder"),
        help_text=_("What “cpx-card helpdesk” shows on their computer (dashes and spaces optional)."),
        max_length=120,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    field_order = ["challenge", "identity_check"]


class CardSearchForm(forms.Form):
    number = forms.CharField(label=_("Card number"), max_length=40)


# --- the holder ------------------------------------------------------------------------------------


@for_roles(Role.HOLDER)
def card_codes(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """The holder asks for their codes letter again: their password, then a second person approves."""
    card = codes.card_for_codes(actor=request.user, card_id=pk)
    form = PasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        check = codes.holder_identity_check(request, form.cleaned_data["password"])
        reissue = codes.codes_reissue_request(card=card, actor=request.user, identity_check=check)
        messages.success(
            request,
            _(
                "Request %(reference)s recorded. Once the CPx service has approved it, a letter with your "
                "unblocking code is posted to you."
            )
            % {"reference": reissue.reference},
        )
        return redirect("portal:card", pk=card.pk)
    context = {
        "card": card,
        "form": form,
        "live": card.state in Card.LIVE_STATES,
        "reissues": card.codes_reissues.select_related("approval").order_by("-created_at")[:10],
        "fee": codes.reissue_fee(),
    }
    return render(request, "portal/holder/codes.html", context, status=400 if form.errors else 200)


# --- the back office -------------------------------------------------------------------------------


@for_roles(*OPERATORS)
def help_desk(request: HttpRequest, account: Account) -> HttpResponse:
    """Find the caller's card by its number (``cpx-card show`` prints it); the operator's requests."""
    form = CardSearchForm(request.GET or None)
    if form.is_valid():
        number = re.sub(r"\D", "", form.cleaned_data["number"])
        found = Card.objects.filter(number=number).values_list("pk", flat=True).first()
        try:
            card = codes.card_for_codes(actor=request.user, card_id=found or 0)
        except CardNotFound:
            messages.error(request, "Aucune carte de ce numéro dans votre périmètre.")
        else:
            return redirect("portal:bo-card-codes", pk=card.pk)
    mine = UnblockRequest.objects.filter(requested_by=account.user).select_related("card", "approval")
    context = {"form": form, "unblocks": mine.order_by("-created_at")[:50]}
    return render(request, "portal/backoffice/codes.html", context)


@for_roles(*OPERATORS)
def card_help_desk(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    return _card_page(request, codes.card_for_codes(actor=request.user, card_id=pk), {})


def _card_page(request: HttpRequest, card: Card, forms_: dict[str, Any], status: int = 200) -> HttpResponse:
    context = {
        "card": card,
        "live": card.state in Card.LIVE_STATES,
        "reissue_form": forms_.get("reissue") or ReissueForm(),
        "unblock_form": forms_.get("unblock") or UnblockForm(),
        "reissues": CodesReissue.objects.filter(card=card).select_related("approval", "requested_by"),
        "unblocks": UnblockRequest.objects.filter(card=card).select_related("approval", "requested_by"),
        "fee": codes.reissue_fee(),
    }
    return render(request, "portal/backoffice/card_codes.html", context, status=status)


@require_POST
@for_roles(*OPERATORS)
def card_reissue(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    card = codes.card_for_codes(actor=request.user, card_id=pk)
    form = ReissueForm(request.POST)
    if not form.is_valid():
        return _card_page(request, card, {"reissue": form}, status=400)
    reissue = codes.codes_reissue_request(
        card=card, actor=request.user, identity_check=form.cleaned_data["identity_check"]
    )
    messages.success(
        request,
        _(
            "Request %(reference)s recorded: a second operator must approve it "
            "(approval request no. %(approval)s)."
        )
        % {"reference": reissue.reference, "approval": reissue.approval_id},
    )
    return redirect("portal:bo-card-codes", pk=card.pk)


@require_POST
@for_roles(*OPERATORS)
def card_unblock(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    card = codes.card_for_codes(actor=request.user, card_id=pk)
    form = UnblockForm(request.POST)
    if not form.is_valid():
        return _card_page(request, card, {"unblock": form}, status=400)
    row = helpdesk.unblock_request_open(
        card=card,
        actor=request.user,
        challenge=form.cleaned_data["challenge"],
        identity_check=form.cleaned_data["identity_check"],
    )
    messages.success(
        request,
        _(
            "Unblock request recorded: a second operator must approve it "
            "(approval request no. %(approval)s). The response will show here, for you only, once."
        )
        % {"approval": row.approval_id},
    )
    return redirect("portal:bo-unblock", pk=row.pk)


def _unblock_for(request: HttpRequest, pk: int) -> UnblockRequest:
    row = UnblockRequest.objects.select_related("card", "approval", "requested_by").filter(pk=pk).first()
    if row is None or not (
        row.requested_by_id == request.user.pk or codes.operator_may_act(request.user, row.card)
    ):
        raise CardNotFound()
    return row


@for_roles(*OPERATORS)
def unblock_request(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    row = _unblock_for(request, pk)
    context = {
        "row": row,
        "challenge": unblock.display_challenge(row.challenge),
        "mine": row.requested_by_id == request.user.pk,
    }
    return render(request, "portal/backoffice/unblock.html", context)


@never_cache
@require_POST
@for_roles(*OPERATORS)
def unblock_reveal(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """The response, on this page only (no redirect: it is never shown again)."""
    row = _unblock_for(request, pk)
    response = helpdesk.unblock_response_reveal(unblock_request=row.pk, actor=request.user)
    row.refresh_from_db()
    context = {
        "row": row,
        "challenge": unblock.display_challenge(row.challenge),
        "mine": True,
        "response": unblock.display_response(response),
    }
    return render(request, "portal/backoffice/unblock.html", context)
