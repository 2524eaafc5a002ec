"""The structure manager's pages: the structure's staff and their cards, declaring and ending staff,
ordering CPE/CPA/CDE one at a time or in batch from a CSV file."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Case, Prefetch, Q, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from cards.models import Card
from cards.scoping import cards_visible_to
from core.errors import NotFound
from core.roles import Role
from core.web import for_roles
from orders import batch
from orders import services as order_services
from orders.errors import NotEligible
from orders.models import Order
from orders.scoping import orders_visible_to
from portal.forms_structure import BatchConfirmForm, BatchUploadForm, StaffDeclareForm, StructureOrderForm
from registry import staff
from registry.models import Account, StructureMember

BATCH_SESSION_KEY = "structure_batch"


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
    rows = [(member, staff.card_type_for(member.role)) for member in members]
    context = {
        "structure": account.structure,
        "rows": rows,
        # Issue 16: a structure card proposed and not answered yet comes first (confirmed or declined there).
        "orders": open_orders.select_related("professional").order_by(PROPOSALS_FIRST, "-created_at")[:50],
        "live_states": Card.LIVE_STATES,
    }
    return render(request, "portal/manager/structure.html", context)


PROPOSALS_FIRST = Case(
    When(Q(origin=Order.Origin.PROPOSED, state=Order.State.DRAFT), then=Value(0)), default=Value(1)
)


@for_roles(Role.STRUCTURE_MANAGER)
def staff_declare(request: HttpRequest, account: Account) -> HttpResponse:
    assert account.structure is not None
    form = StaffDeclareForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            member = staff.staff_declare(actor=request.user, structure=account.structure, **form.cleaned_data)
        except staff.StaffInvalid as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return render(
                request, "portal/manager/staff_form.html", {"form": form, "structure": account.structure}
            )
        name = member.professional.full_name
        messages.success(
            request,
            _("%(name)s is declared, with the identifier %(id)s.")
            % {"name": name, "id": member.professional.national_id},
        )
        if staff.card_type_for(member.role):
            return redirect(f"{reverse('portal:structure-order')}?member={member.pk}")
        return redirect("portal:structure")
    return render(request, "portal/manager/staff_form.html", {"form": form, "structure": account.structure})


@for_roles(Role.STRUCTURE_MANAGER)
def staff_end(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    assert account.structure is not None
    try:
        member = staff.member_of(structure=account.structure, pk=pk)
    except NotFound:
        raise Http404 from None
    if request.method == "POST":
        staff.staff_end(actor=request.user, member=member)
        messages.success(
            request, _("%(name)s is no longer a staff member.") % {"name": member.professional.full_name}
        )
        return redirect("portal:structure")
    return render(
        request, "portal/manager/staff_end.html", {"member": member, "structure": account.structure}
    )


def _order_initial(request: HttpRequest, structure_id: int) -> dict[str, Any]:
    """The member named in ``?member=`` (just declared, or chosen in the list) and the card that fits."""
    pk = request.GET.get("member", "")
    member = StructureMember.objects.filter(structure_id=structure_id, is_active=True, pk=pk or 0).first()
    if member is None:
        return {}
    return {"member": member.pk, "card_type": staff.card_type_for(member.role)}


@for_roles(Role.STRUCTURE_MANAGER)
def structure_order(request: HttpRequest, account: Account) -> HttpResponse:
    assert account.structure_id is not None
    form = StructureOrderForm(
        request.POST if request.method == "POST" else None,
        structure_id=account.structure_id,
        initial=_order_initial(request, account.structure_id),
    )
    if request.method == "POST" and form.is_valid():
        member, card_type = form.cleaned_data["member"], form.cleaned_data["card_type"]
        try:
            # Create and submit at once; a refusal (eligibility...) is told on this page by ``core.web``.
            order = order_services.order_place(
                actor=request.user,
                professional=member.professional,
                card_type=card_type,
                kind=Order.Kind.FIRST,
                structure=account.structure,
            )
        except NotEligible:
            if staff.card_type_for(member.role) != card_type:
                messages.info(request, batch.role_card_hint(member.role, card_type))
            raise
        messages.success(request, _("The order is sent to ANS for review."))
        return redirect("portal:order", pk=order.pk)
    context = {
        "form": form,
        "structure": account.structure,
        "role_cards": [(label, staff.card_type_for(value)) for value, label in StructureMember.Role.choices],
    }
    return render(request, "portal/manager/order_form.html", context)


# ---------------------------------------------------------------------------------------------------------
# Ordering in batch


@for_roles(Role.STRUCTURE_MANAGER)
def batch_upload(request: HttpRequest, account: Account) -> HttpResponse:
    assert account.structure is not None
    form = BatchUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            preview = batch.batch_preview(
                actor=request.user, structure=account.structure, data=upload.read(), file_name=upload.name
            )
        except batch.BatchFileRefused as exc:
            form.add_error("file", exc.message)
        else:
            request.session[BATCH_SESSION_KEY] = {"structure_id": account.structure_id, **preview.to_data()}
            return redirect("portal:structure-batch-preview", sha256=preview.sha256)
    context = {"form": form, "structure": account.structure, "header": ";".join(batch.HEADER)}
    return render(request, "portal/manager/batch_upload.html", context)


def _stored_preview(request: HttpRequest, account: Account, sha256: str) -> dict[str, Any] | None:
    data = request.session.get(BATCH_SESSION_KEY)
    if not data or data.get("sha256") != sha256 or data.get("structure_id") != account.structure_id:
        return None
    return data


@for_roles(Role.STRUCTURE_MANAGER)
def batch_preview(request: HttpRequest, sha256: str, account: Account) -> HttpResponse:
    assert account.structure is not None
    data = _stored_preview(request, account, sha256)
    if data is None:
        messages.error(request, _("This preview is no longer available: upload the file again."))
        return redirect("portal:structure-batch")
    preview = batch.batch_from_data(structure=account.structure, data=data)
    context = {
        "structure": account.structure,
        "preview": preview,
        "form": BatchConfirmForm(initial={"sha256": sha256}),
    }
    return render(request, "portal/manager/batch_preview.html", context)


@require_POST
@for_roles(Role.STRUCTURE_MANAGER)
def batch_confirm(request: HttpRequest, account: Account) -> HttpResponse:
    assert account.structure is not None
    form = BatchConfirmForm(request.POST)
    data = _stored_preview(request, account, form.data.get("sha256", "")) if form.is_valid() else None
    if data is None:
        messages.error(
            request, _("The file changed since the preview, or the preview expired: upload it again.")
        )
        return redirect("portal:structure-batch")
    try:
        orders = batch.batch_confirm(actor=request.user, structure=account.structure, data=data)
    except batch.BatchChanged as exc:
        preview = batch.batch_from_data(structure=account.structure, data=data)
        request.session[BATCH_SESSION_KEY] = {"structure_id": account.structure_id, **preview.to_data()}
        messages.error(request, exc.message)
        return redirect("portal:structure-batch-preview", sha256=preview.sha256)
    request.session.pop(BATCH_SESSION_KEY, None)
    count = len(orders)
    messages.success(
        request,
        ngettext(
            "%(count)d order is sent to ANS for review.",
            "%(count)d orders are sent to ANS for review.",
            count,
        )
        % {"count": count},
    )
    return redirect("portal:structure")


@for_roles(Role.STRUCTURE_MANAGER)
def batch_template(request: HttpRequest, account: Account) -> HttpResponse:
    response = HttpResponse(batch.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="commande-cartes-modele.csv"'
    return response
