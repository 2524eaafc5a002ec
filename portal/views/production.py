"""ANS's production and registry pages: stations, readers, blank stock, failures, throughput; imports."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Max, Min
from django.db.models.functions import TruncDate
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from approvals.errors import ApprovalRequired
from cards.models import Card, Mailer
from core.roles import Role
from core.web import for_roles
from lifecycle.shipping import ShipmentLine, shipping_batch_create, shipping_batches_visible_to
from notifications.models import PrintBatch
from orders.models import Order
from portal.forms import ShippingForm
from portal.forms_operators import ImportUploadForm, StockThresholdForm
from registry.models import Account, RegistryImport
from registry.uploads import UploadRefused, upload_import_start
from stations.models import PersonalizationJob, Reader, ReaderStation
from stations.services import station_stats
from stations.stock import stock_by_station, stock_threshold_set

# The letters that carry codes: printed by the secure print run, their content purged once printed.
SECRET_MAILERS = (Mailer.Kind.PIN, Mailer.Kind.CODES)

PRODUCTION_STATES = (Order.State.QUEUED, Order.State.IN_PRODUCTION, Order.State.PRODUCED, Order.State.FAILED)


@for_roles(Role.ANS_OPERATOR)
def production(request: HttpRequest, account: Account) -> HttpResponse:
    stations = [_labelled(station_stats(station=s)) for s in ReaderStation.objects.order_by("name")]
    stock = stock_by_station()
    counts = dict(
        Order.objects.filter(state__in=PRODUCTION_STATES).values_list("state").annotate(n=Count("id"))
    )
    day_ago = timezone.now() - timedelta(days=1)
    jobs = PersonalizationJob.objects.filter(updated_at__gte=day_ago)
    context = {
        "stations": stations,
        "stock": stock,
        "low_stock": [line for line in stock if line.low],
        "threshold_form": StockThresholdForm(),
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


STATION_STATES = dict(ReaderStation.State.choices)
READER_STATES = dict(Reader.State.choices)


def _labelled(stats: dict[str, Any]) -> dict[str, Any]:
    """The station's and its readers' states in words (the raw values stay for the badges' colours)."""
    stats["state_label"] = STATION_STATES.get(stats["state"], stats["state"])
    for reader in stats["readers"]:
        reader["state_label"] = READER_STATES.get(reader["state"], reader["state"])
    return stats


@require_POST
@for_roles(Role.ANS_OPERATOR)
def station_threshold(request: HttpRequest, name: str, account: Account) -> HttpResponse:
    """Set the low-stock threshold of one station."""
    station = get_object_or_404(ReaderStation, name=name)
    form = StockThresholdForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The threshold is a whole number from 0 to 100,000."))
        return redirect("portal:production")
    stock_threshold_set(station=station, threshold=form.cleaned_data["threshold"], actor=request.user)
    messages.success(request, _("The low-stock threshold of %(name)s is saved.") % {"name": station.name})
    return redirect("portal:production")


@for_roles(Role.ANS_OPERATOR)
def print_runs(request: HttpRequest, account: Account) -> HttpResponse:
    """The print runs: the daily letter batches, and the PIN mailers and codes letters printed per day and
    kind (how many, when). Never their content: the sealed letters are purged once printed."""
    printed = Mailer.objects.filter(printed_at__isnull=False, kind__in=SECRET_MAILERS)
    runs = (
        printed.annotate(day=TruncDate("printed_at"))
        .values("day", "kind")
        .annotate(count=Count("id"), first=Min("printed_at"), last=Max("printed_at"))
        .order_by("-day", "kind")[:200]
    )
    kinds = dict(Mailer.Kind.choices)
    context = {
        "mailer_runs": [{**run, "label": kinds.get(run["kind"], run["kind"])} for run in runs],
        "waiting": Mailer.objects.filter(printed_at__isnull=True, kind__in=SECRET_MAILERS).count(),
        "batches": PrintBatch.objects.order_by("-day")[:100],
    }
    return render(request, "portal/backoffice/print_runs.html", context)


@for_roles(Role.ANS_OPERATOR)
def mailer_run(request: HttpRequest, day: str, kind: str, account: Account) -> HttpResponse:
    """The manifest of one day's PIN mailers (or codes letters): which card, whose, printed when."""
    try:
        when = date.fromisoformat(day)
    except ValueError as exc:
        raise Http404 from exc
    if kind not in SECRET_MAILERS:
        raise Http404
    mailers = (
        Mailer.objects.filter(printed_at__date=when, kind=kind)
        .select_related("card__professional")
        .only(
            "id",
            "kind",
            "printed_at",
            "card__number",
            "card__professional__national_id",
            "card__professional__last_name",
            "card__professional__first_name",
        )
        .order_by("printed_at", "id")
    )
    context = {"day": when, "label": Mailer.Kind(kind).label, "mailers": mailers}
    return render(request, "portal/backoffice/print_run.html", context)


@for_roles(Role.ANS_OPERATOR)
def letter_batch(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """The manifest of one day's letter batch: page, recipient, what the letter is about."""
    batch = get_object_or_404(PrintBatch, pk=pk)
    letters = batch.letters.select_related("recipient").order_by("pk")
    context = {"batch": batch, "letters": letters}
    return render(request, "portal/backoffice/letter_batch.html", context)


@for_roles(Role.ANS_OPERATOR)
def imports(request: HttpRequest, account: Account) -> HttpResponse:
    """The registry imports, and the form to upload an extraction: it is checked at once, then imported in
    the background (``registry.uploads``); its page follows it."""
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        started = _start_import(request, form)
        if started is not None:
            return started
    runs = [_named(run) for run in RegistryImport.objects.order_by("-started_at")[:100]]
    context = {"imports": runs, "form": form}
    return render(request, "portal/backoffice/imports.html", context, status=400 if form.errors else 200)


def _start_import(request: HttpRequest, form: ImportUploadForm) -> HttpResponse | None:
    data = form.cleaned_data
    try:
        record = upload_import_start(
            upload=data["file"],
            actor=request.user,
            full=data["full"],
            force=data["force"],
            approval_id=data["approval"],
        )
    except UploadRefused as exc:
        form.add_error(
            "file", _("This file is not a registry extraction (%(problem)s).") % {"problem": exc.problem}
        )
        return None
    except ApprovalRequired as exc:
        if "request_id" not in exc.extra:  # the approval given is not usable for this file
            form.add_error("approval", exc.message)
            return None
        messages.info(
            request,
            _(
                "Approval request no. %(id)s is made: once another ANS operator approves it, upload the same "
                "file again with “Force the import” ticked and this approval number."
            )
            % {"id": exc.extra["request_id"]},
        )
        return redirect("portal:imports")
    messages.success(request, _("The file is accepted: its import is running."))
    return redirect("portal:import", pk=record.pk)


def _named(run: RegistryImport) -> RegistryImport:
    run.display_name = Path(run.file_name).name  # type: ignore[attr-defined]
    run.refused_for_share = (  # type: ignore[attr-defined]
        run.status == RegistryImport.Status.REFUSED and "CPX_IMPORT_MAX_DEACTIVATION_SHARE" in run.error
    )
    return run


@for_roles(Role.ANS_OPERATOR)
def import_detail(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """One import: its progress while it runs (the status fragment polls itself), then its counts."""
    run = _named(get_object_or_404(RegistryImport, pk=pk))
    template = "portal/backoffice/import_status.html" if request.htmx else "portal/backoffice/import.html"  # type: ignore[attr-defined]
    return render(request, template, {"run": run})


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
