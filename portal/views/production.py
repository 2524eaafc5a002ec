"""ANS's production and registry pages: stations, readers, blank stock, failures, throughput; imports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from issuance.models import PersonalizationJob, ReaderStation
from issuance.services import station_stats
from orders.models import Order
from portal.access import Role, for_roles
from registry.models import Account, RegistryImport

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
