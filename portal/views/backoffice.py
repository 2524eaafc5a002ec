"""The operators' back-office (an Ordre, ANS; auditors read it): the queue of their authority's orders,
an order with everything needed to decide, the transitions they may fire, and a holder's page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cards.models import Card
from cards.scoping import cards_visible_to
from cards.search import directory
from core.roles import BACK_OFFICE, OPERATORS, role_of
from core.transitions import allowed
from core.web import for_roles
from orders import eligibility, payment_services, waivers
from orders import services as order_services
from orders.comments import comment_add, comments_visible_to
from orders.models import Order
from orders.scoping import orders_visible_to
from portal.forms import CancelForm, PaymentForm, QueueFilterForm, RejectForm
from portal.forms_operators import CommentForm, DirectoryForm, OnBehalfOrderForm
from portal.views.approvals import FeeWaiverForm, open_fee_waiver
from registry.models import Account
from registry.scoping import professionals_visible_to

# The transitions the order page has a button for, in the order they are shown. Which of them the page
# shows is ``core.transitions.allowed(order, user)``: the API's ``your_transitions`` says the same.
BUTTONS = ("submit", "approve", "reject", "record_payment", "requeue", "cancel")
PAGE_SIZE = 50


def queue_orders(request: HttpRequest) -> QuerySet[Order]:
    return orders_visible_to(request.user).select_related("professional", "authority")


def filtered(orders: QuerySet[Order], form: QueueFilterForm) -> QuerySet[Order]:
    if not form.is_valid():
        return orders
    data = form.cleaned_data
    for name in ("state", "kind", "card_type"):
        if data[name]:
            orders = orders.filter(**{name: data[name]})
    if data["q"]:
        orders = orders.filter(search(data["q"].strip()))
    return orders


def search(text: str) -> Q:
    """An identifier (national, RPPS, ADELI, order number) or a name."""
    found = Q(professional__last_name__icontains=text) | Q(professional__first_name__icontains=text)
    if text.isdigit():
        found |= Q(professional__national_id=text) | Q(professional__rpps=text) | Q(professional__adeli=text)
        found |= Q(pk=int(text)) if len(text) < 12 else Q()
    return found


@for_roles(*BACK_OFFICE)
def queue(request: HttpRequest, account: Account) -> HttpResponse:
    form = QueueFilterForm(request.GET or None)
    orders = filtered(queue_orders(request), form).order_by("state_changed_at", "id")
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "title": _("Order queue"), "overdue": False}
    template = "portal/backoffice/queue_rows.html" if request.htmx else "portal/backoffice/queue.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@for_roles(*BACK_OFFICE)
def overdue(request: HttpRequest, account: Account) -> HttpResponse:
    orders = order_services.orders_overdue(orders=queue_orders(request)).order_by("state_changed_at", "id")
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": None, "page": page, "title": _("Overdue orders"), "overdue": True}
    return render(request, "portal/backoffice/queue.html", context)


def buttons(order: Order, user: Any) -> list[str]:
    """The transitions ``user`` may fire on ``order`` now, in the order of the page's buttons."""
    mine = allowed(order, user)
    return [name for name in BUTTONS if name in mine]


@for_roles(*BACK_OFFICE)
def order_detail(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    return order_page(request, get_object_or_404(queue_orders(request), pk=pk), {})


def order_page(request: HttpRequest, order: Order, forms: dict, status: int = 200) -> HttpResponse:
    context = {
        "order": order,
        "person": order.professional,
        "exercises": order.professional.exercises.select_related("profession", "category", "skill"),
        "eligibility": eligibility.check(order) if not order.is_final else None,
        "events": order.events.select_related("actor"),
        "payment": getattr(order, "payment", None),
        "transitions": buttons(order, request.user),
        "reject_form": forms.get("reject") or RejectForm(),
        "payment_form": forms.get("record_payment") or PaymentForm(initial={"amount": order.fee}),
        "cancel_form": forms.get("cancel") or CancelForm(),
        "waiver_form": forms.get("fee_waiver") or FeeWaiverForm(),
        "fee_waiver": open_fee_waiver(order),
        "overdue": order_services.orders_overdue(orders=Order.objects.filter(pk=order.pk)).exists(),
        "comments": comments_visible_to(order=order, user=request.user),
        "comment_form": forms.get("comment") or CommentForm(),
        "can_comment": role_of(request.user) in OPERATORS,
    }
    return render(request, "portal/backoffice/order.html", context, status=status)


def done(request: HttpRequest, order: Order, success: str) -> HttpResponse:
    """After a transition: told so, on the order's page (a refusal is ``core.web``'s to tell)."""
    messages.success(request, success)
    return redirect("portal:bo-order", pk=order.pk)


@require_POST
@for_roles(*OPERATORS)
def order_approve(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    order = get_object_or_404(queue_orders(request), pk=pk)
    order_services.order_approve(order=order, actor=request.user)
    return done(request, order, _("The order is approved."))


@require_POST
@for_roles(*OPERATORS)
def order_reject(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    order = get_object_or_404(queue_orders(request), pk=pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return invalid(request, order, "reject", form)
    order_services.order_reject(order=order, actor=request.user, reason=form.cleaned_data["reason"])
    return done(request, order, _("The order is rejected; the holder is told why."))


@require_POST
@for_roles(*OPERATORS)
def order_record_payment(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    order = get_object_or_404(queue_orders(request), pk=pk)
    form = PaymentForm(request.POST)
    if not form.is_valid():
        return invalid(request, order, "record_payment", form)
    payment_services.payment_record(order=order, actor=request.user, **form.cleaned_data)
    return done(request, order, _("The payment is recorded; the card goes into production."))


@require_POST
@for_roles(*OPERATORS)
def order_fee_waiver(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """Ask for the fee to be waived: a second operator approves it on the approvals page."""
    order = get_object_or_404(queue_orders(request), pk=pk)
    form = FeeWaiverForm(request.POST)
    if not form.is_valid():
        return invalid(request, order, "fee_waiver", form)
    waivers.fee_waiver_request(order=order, actor=request.user, reason=form.cleaned_data["reason"])
    return done(request, order, _("The fee waiver is requested; another operator must approve it."))


@require_POST
@for_roles(*OPERATORS)
def order_cancel(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    order = get_object_or_404(queue_orders(request), pk=pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return invalid(request, order, "cancel", form)
    order_services.order_cancel(order=order, actor=request.user, reason=form.cleaned_data["reason"])
    return done(request, order, _("The order is cancelled."))


@require_POST
@for_roles(*OPERATORS)
def order_submit_draft(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """A draft (one an operator prepared on the holder's behalf, or the holder left) sent for review."""
    order = get_object_or_404(queue_orders(request), pk=pk)
    order_services.order_submit(order=order, actor=request.user)
    return done(request, order, _("The order is submitted for review."))


@require_POST
@for_roles(*OPERATORS)
def order_requeue(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    order = get_object_or_404(queue_orders(request), pk=pk)
    order_services.order_requeue(order=order, actor=request.user)
    return done(request, order, _("The order is back in the production queue."))


@require_POST
@for_roles(*OPERATORS)
def order_comment(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """A note on the order, for the operators (and the holder if ticked)."""
    order = get_object_or_404(queue_orders(request), pk=pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return invalid(request, order, "comment", form)
    comment_add(order=order, actor=request.user, **form.cleaned_data)
    return done(request, order, _("The comment is added."))


def invalid(request: HttpRequest, order: Order, name: str, form: Any) -> HttpResponse:
    return order_page(request, order, {name: form}, status=400)


def directory_people(request: HttpRequest, form: DirectoryForm) -> QuerySet:
    """The directory as the page (and its export) shows it: the operator's people, found by name (accents
    ignored), RPPS, ADELI, national identifier or card number (``cards.search``), sorted."""
    people = professionals_visible_to(request.user)
    if not form.is_valid():
        return directory(people=people)
    data = form.cleaned_data
    return directory(people=people, text=data["q"] or "", sort=data["sort"] or "name")


@for_roles(*BACK_OFFICE)
def holders(request: HttpRequest, account: Account) -> HttpResponse:
    """The directory of the operator's authority: every person, counted and paginated, or those found."""
    form = DirectoryForm(request.GET or None)
    page = Paginator(directory_people(request, form), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "pages": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "query": page_query(request),
        "searched": bool(form.is_valid() and form.cleaned_data["q"]),
        "total_display": number_format(page.paginator.count, force_grouping=True),  # "1 234"
    }
    return render(request, "portal/backoffice/holders.html", context)


def page_query(request: HttpRequest) -> str:
    """The list's query string without its page (the pagination links add theirs)."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def person_search(text: str) -> Q:
    found = Q(last_name__icontains=text) | Q(first_name__icontains=text)
    if text.isdigit():
        found |= Q(national_id=text) | Q(rpps=text) | Q(adeli=text)
    return found


@for_roles(*BACK_OFFICE)
def holder(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    return holder_page(request, get_object_or_404(professionals_visible_to(request.user), pk=pk), account)


def holder_page(
    request: HttpRequest, person: Any, account: Account, order_form: OnBehalfOrderForm | None = None
) -> HttpResponse:
    context = {
        "person": person,
        "exercises": person.exercises.select_related("profession", "category", "skill"),
        "cards": cards_visible_to(request.user).filter(professional=person).order_by("-valid_until"),
        "orders": orders_visible_to(request.user).filter(professional=person).order_by("-created_at"),
        "live_states": Card.LIVE_STATES,
        "can_act": account.role in OPERATORS,
        "order_form": order_form or OnBehalfOrderForm(person=person),
    }
    return render(request, "portal/backoffice/holder.html", context, status=400 if order_form else 200)


@require_POST
@for_roles(*OPERATORS)
def holder_order(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """An order placed by the operator on the holder's behalf (created and submitted at once: the
    eligibility rules apply as for the holder; a refusal comes back with its reasons, ``core.web``)."""
    person = get_object_or_404(professionals_visible_to(request.user), pk=pk)
    form = OnBehalfOrderForm(request.POST, person=person)
    if not form.is_valid():
        return holder_page(request, person, account, order_form=form)
    order = order_services.order_place(actor=request.user, professional=person, **form.cleaned_data)
    messages.success(request, _("Order no. %(pk)s is placed on the holder's behalf.") % {"pk": order.pk})
    return redirect("portal:bo-order", pk=order.pk)
