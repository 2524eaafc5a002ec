"""ANS's production and registry pages: stations, readers, blank stock, failures, throughput; imports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from cards.models import Card
from core.roles import Role
from core.web import for_roles
from lifecycle.shipping import ShipmentLine, shipping_batch_create, shipping_batches_visible_to
from orders.models import Order
from portal.forms import ShippingForm
from registry.models import Account, RegistryImport
from stations.models import PersonalizationJob, ReaderStation
from stations.services import station_stats

PRODUCTION_STATES = (Order.State.QUEUED, Order.State.IN_PRODUCTION, Order.State.PRODUCED, Order.State.FAILED)


@for_roles(Role.ANS_OPERATOR)
def production(request: HttpRequest, account: Account) -> HttpResponse:
    stations = [station_stats(station=s) for s in ReaderStation.objects.order_by("name")]
    counts = dict(
        Order.objects.filter(state__in=PRODUCTION_STATES).values_list("state").annotate(n=Count("id"))
    )
    day_ago = timezone.now() - timedelta(days=1)
    jobs = PersonalizationJob.objects.filter(updated_at__gte=day_ago)
    context = {
        "stations": stations,
        "order_counts": [(Order.State(s).label, s, counts.get(s, 0)) for s in PRODUCTION_STATES],
        "done_last_day": jobs.filter(step=PersonalizationJob.Step.DONE).count(),
        "failed_last_day": jobs.filter(
            step__in=[PersonalizationJob.Step.FAILED, PersonalizationJob.Step.INTERRUPTED]
        ).count(),
        "failures": PersonalizationJob.objects.filter(
            step__in=[PersonalizationJob.Step.FAILED, PersonalizationJob.Step.INTERRUPTED]
        )
        .select_related("station")
        .order_by("-updated_at")[:20],
    }
    return render(request, "portal/backoffice/production.html", context)


@for_roles(Role.ANS_OPERATOR)
def imports(request: HttpRequest, account: Account) -> HttpResponse:
    runs = RegistryImport.objects.order_by("-started_at")[:100]
    return render(request, "portal/backoffice/imports.html", {"imports": runs})


@for_roles(Role.ANS_OPERATOR)
def import_rejects(request: HttpRequest, pk: int, account: Account) -> FileResponse:
    """The reject report of an import, only from the reject folder (the path is stored in the row)."""
    run = get_object_or_404(RegistryImport, pk=pk)
    folder = Path(settings.CPX_REJECT_DIR).resolve()
    path = Path(run.reject_report).resolve() if run.reject_report else None
    if path is None or not path.is_relative_to(folder) or not path.is_file():
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type="text/plain")


@for_roles(Role.ANS_OPERATOR)
def shipping(request: HttpRequest, account: Account) -> HttpResponse:
    """Cards made and waiting for the carrier; a batch is recorded with one tracking number per card. A
    batch the service refuses comes back to this page with the reason (``core.web``)."""
    made = Card.objects.filter(state=Card.State.PERSONALIZED).select_related("professional")
    waiting = list(made.order_by("created_at", "id")[:200])
    ticked = set(request.POST.getlist("card"))
    for card in waiting:  # what was typed comes back if the form is incomplete
        card.ticked = str(card.pk) in ticked  # type: ignore[attr-defined]
        card.typed_tracking = request.POST.get(f"tracking-{card.pk}", "")  # type: ignore[attr-defined]
    form = ShippingForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        lines = [
            ShipmentLine(card_id=card.pk, tracking_reference=card.typed_tracking)  # type: ignore[attr-defined]
            for card in waiting
            if card.ticked  # type: ignore[attr-defined]
        ]
        batch = shipping_batch_create(actor=request.user, lines=lines, **form.cleaned_data)
        messages.success(
            request, _("Batch %(ref)s is recorded: the holders are told.") % {"ref": batch.reference}
        )
        return redirect("portal:shipping")
    context = {
        "form": form,
        "waiting": waiting,
        "batches": shipping_batches_visible_to(request.user)[:20],
    }
    return render(request, "portal/backoffice/shipping.html", context, status=400 if form.errors else 200)
