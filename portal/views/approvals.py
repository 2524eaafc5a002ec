"""The back office's two-person approvals: what waits for the operator's decision, what they asked for,
and one request with its Approve / Reject buttons. Every decision goes through ``approvals.services``:
who may decide (never the requester) is its rule, and a refusal comes back as a message on the page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from approvals import services as approvals
from approvals.models import ApprovalRequest
from core.roles import BACK_OFFICE, OPERATORS
from core.web import for_roles
from orders import waivers
from orders.models import Order
from portal.forms import AccessibleForm
from registry.models import Account

PAGE_SIZE = 50


class ApproveForm(AccessibleForm):
    prefix = "approve"  # the page has both forms: distinct field ids
    comment = forms.CharField(
        label="Commentaire (facultatif)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RejectForm(AccessibleForm):
    prefix = "reject"
    comment = forms.CharField(
        label=_("Reason for the refusal"),
        help_text=_("The requester reads this reason."),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class FeeWaiverForm(AccessibleForm):
    """Asking for an order's fee to be waived (the back-office order page; ``orders.waivers``)."""

    prefix = "waiver"  # the order page has other "reason" fields (rejection, cancellation)

    reason = forms.CharField(
        label=_("Reason for the waiver"),
        help_text=_("The operator who approves the waiver reads this reason."),
        min_length=waivers.REASON_MIN_LENGTH,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def open_fee_waiver(order: Order) -> ApprovalRequest | None:
    """The fee waiver of ``order`` waiting for approval, if there is one."""
    waiting = ApprovalRequest.objects.filter(
        action=waivers.ACTION,
        object_type="order",
        object_id=str(order.pk),
        state=ApprovalRequest.State.PENDING,
    )
    return waiting.filter(expires_at__gt=timezone.now()).first()


def _visible(request: HttpRequest, pk: int) -> ApprovalRequest:
    found = approvals.visible_to(request.user).filter(pk=pk).select_related("requested_by").first()
    if found is None:
        raise Http404
    return found


@for_roles(*BACK_OFFICE)
def approval_list(request: HttpRequest, account: Account) -> HttpResponse:
    awaiting = approvals.awaiting(request.user).select_related("requested_by").order_by("expires_at", "id")
    mine = ApprovalRequest.objects.filter(requested_by_id=request.user.pk).order_by("-created_at", "-id")
    others = approvals.visible_to(request.user).exclude(requested_by_id=request.user.pk)
    others = others.exclude(pk__in=awaiting.values("pk")).select_related("requested_by")
    page = Paginator(others.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"awaiting": _labelled(awaiting), "mine": _labelled(mine[:PAGE_SIZE]), "page": page}
    page.object_list = _labelled(page.object_list)
    return render(request, "portal/backoffice/approvals.html", context)


def _labelled(requests: Any) -> list[ApprovalRequest]:
    """The requests, each with ``label``: its action in words."""
    rows = list(requests)
    for row in rows:
        row.label = approvals.label_of(row.action)  # type: ignore[attr-defined]
    return rows


@for_roles(*BACK_OFFICE)
def approval_detail(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    return approval_page(request, _visible(request, pk), {})


def approval_page(
    request: HttpRequest, found: ApprovalRequest, forms: dict, status: int = 200
) -> HttpResponse:
    decisions = found.decisions.select_related("approver")
    decided = any(d.approver_id == request.user.pk for d in decisions)
    context = {
        "approval": found,
        "label": approvals.label_of(found.action),
        "decisions": decisions,
        "approvals_count": sum(1 for d in decisions if d.approve),
        "is_requester": found.requested_by_id == request.user.pk,
        "may_decide": found.is_open and not decided and approvals.may_decide(request.user, found),
        "approve_form": forms.get("approve") or ApproveForm(),
        "reject_form": forms.get("reject") or RejectForm(),
    }
    return render(request, "portal/backoffice/approvals_detail.html", context, status=status)


def _decide(request: HttpRequest, pk: int, approve: bool) -> HttpResponse:
    found = _visible(request, pk)
    form: Any = (ApproveForm if approve else RejectForm)(request.POST)
    if not form.is_valid():
        return approval_page(request, found, {"approve" if approve else "reject": form}, status=400)
    decided = approvals.decide(
        request_id=found.pk, actor=request.user, approve=approve, comment=form.cleaned_data["comment"]
    )
    messages.success(request, _outcome(decided))
    return redirect("portal:approval", pk=found.pk)


def _outcome(decided: ApprovalRequest) -> str:
    if decided.state == ApprovalRequest.State.EXECUTED:
        return str(_("Request approved: the action was carried out."))
    if decided.state == ApprovalRequest.State.REJECTED:
        return str(_("Request refused."))
    return str(_("Your approval is recorded; more approvals are needed."))


@require_POST
@for_roles(*OPERATORS)
def approval_approve(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    return _decide(request, pk, approve=True)


@require_POST
@for_roles(*OPERATORS)
def approval_reject(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    return _decide(request, pk, approve=False)


@require_POST
@for_roles(*OPERATORS)
def approval_cancel(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    found = _visible(request, pk)
    approvals.withdraw(request_id=found.pk, actor=request.user)
    messages.success(request, _("Request withdrawn."))
    return redirect("portal:approval", pk=found.pk)
