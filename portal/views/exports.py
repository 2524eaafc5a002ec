"""Every list of the portal as a CSV or XLSX file: ``/exports/<name>.csv`` and ``/exports/<name>.xlsx``.

An export is the list's rows, all of them (not one page), with the page's own scoping and the page's
query-string filters: it reuses the list view's queryset functions, so a persona never exports what the
page would not show them. A name the reader's role has no list for is refused (403), like the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q
from django.http import FileResponse, Http404, HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from approvals import services as approvals
from approvals.models import ApprovalRequest
from cards.models import Card
from cards.scoping import cards_visible_to
from core.roles import BACK_OFFICE, PRODUCTION_WATCHERS, Role, account_of
from notifications import services as inbox_services
from notifications.models import PrintBatch
from notifications.rendering import render_notification
from orders import services as order_services
from orders.models import Order
from portal.exports import Column, csv_response, xlsx_response
from portal.forms import QueueFilterForm
from portal.forms_operators import DirectoryForm
from portal.views import backoffice, holder
from registry.models import Account, CardType, RegistryImport, StructureMember
from stations.models import BlankCard, ReaderStation
from stations.services import station_stats


def _label(choices: Any) -> Callable[[str], str]:
    labels = dict(choices)
    return lambda value: str(labels.get(value, value))


order_state = _label(Order.State.choices)
order_kind = _label(Order.Kind.choices)
card_type = _label(CardType.choices)
card_state = _label(Card.State.choices)

ORDER_COLUMNS = [
    Column(_("Order"), lambda o: o.pk),
    Column(_("Last name"), lambda o: o.professional.last_name),
    Column(_("First name"), lambda o: o.professional.first_name),
    Column(_("National identifier"), lambda o: o.professional.national_id),
    Column(_("Card type"), lambda o: card_type(o.card_type)),
    Column(_("Kind"), lambda o: order_kind(o.kind)),
    Column(_("Authority"), lambda o: o.authority.code),
    Column(_("State"), lambda o: order_state(o.state)),
    Column(_("Created on"), lambda o: o.created_at),
    Column(_("In this state since"), lambda o: o.state_changed_at),
]


@dataclass(frozen=True)
class Export:
    title: Any
    roles: frozenset[str]
    columns: list[Column]
    rows: Callable[[HttpRequest, Account], Iterable[Any]]


# --- the rows of each list (the list view's querysets and filters) ------------------------------------------


def queue_rows(request: HttpRequest, account: Account) -> Iterable[Order]:
    form = QueueFilterForm(request.GET or None)
    orders = backoffice.filtered(backoffice.queue_orders(request), form)
    return orders.order_by("state_changed_at", "id").iterator(chunk_size=500)


def overdue_rows(request: HttpRequest, account: Account) -> Iterable[Order]:
    orders = order_services.orders_overdue(orders=backoffice.queue_orders(request))
    return orders.order_by("state_changed_at", "id").iterator(chunk_size=500)


def directory_rows(request: HttpRequest, account: Account) -> Iterable[Any]:
    """The directory page's people: its search (accents ignored, card number...) and its sort."""
    people = backoffice.directory_people(request, DirectoryForm(request.GET or None))
    return people.iterator(chunk_size=500)


def professions(person: Any) -> str:
    exercises = getattr(person, "directory_exercises", None) or person.exercises.select_related("profession")
    return ", ".join(dict.fromkeys(e.profession.label for e in exercises))


def imports_rows(request: HttpRequest, account: Account) -> Iterable[RegistryImport]:
    return RegistryImport.objects.order_by("-started_at", "-id")


def print_run_rows(request: HttpRequest, account: Account) -> Iterable[PrintBatch]:
    return PrintBatch.objects.order_by("-day", "-id")


def stock_rows(request: HttpRequest, account: Account) -> Iterable[Any]:
    counts = {state: Count("blanks", filter=Q(blanks__state=state)) for state in BlankCard.State.values}
    return ReaderStation.objects.annotate(**counts).order_by("name")


def production_rows(request: HttpRequest, account: Account) -> Iterable[dict[str, Any]]:
    return [station_stats(station=s) for s in ReaderStation.objects.order_by("name")]


def shipping_rows(request: HttpRequest, account: Account) -> Iterable[Card]:
    made = Card.objects.filter(state=Card.State.PERSONALIZED).select_related("professional")
    return made.order_by("created_at", "id")


def approval_rows(request: HttpRequest, account: Account) -> Iterable[ApprovalRequest]:
    found = approvals.visible_to(request.user).select_related("requested_by")
    return found.order_by("-created_at", "-id")


def my_order_rows(request: HttpRequest, account: Account) -> Iterable[Order]:
    return holder.visible_orders(request).order_by("-created_at", "-id")


def staff_rows(request: HttpRequest, account: Account) -> Iterable[StructureMember]:
    """The structure page's staff, each with the structure's cards made for them (newest first)."""
    cards = cards_visible_to(request.user).order_by("-valid_until", "-id")
    members = StructureMember.objects.filter(structure=account.structure, is_active=True)
    return (
        members.select_related("professional")
        .prefetch_related(Prefetch("professional__cards", queryset=cards, to_attr="structure_cards"))
        .order_by("professional__last_name", "professional__first_name", "id")
    )


def latest_card(member: StructureMember) -> Card | None:
    found = getattr(member.professional, "structure_cards", [])
    return found[0] if found else None


def message_rows(request: HttpRequest, account: Account) -> Iterable[Any]:
    found = inbox_services.inbox(professional=account.professional).order_by("-created_at", "-id")
    for notification in found.select_related("recipient").iterator(chunk_size=200):
        notification.subject = render_notification(notification).subject  # type: ignore[attr-defined]
        yield notification


blank_state = _label(BlankCard.State.choices)
station_state = _label(ReaderStation.State.choices)
import_status = _label(RegistryImport.Status.choices)
approval_state = _label(ApprovalRequest.State.choices)
member_role = _label(StructureMember.Role.choices)

EXPORTS: dict[str, Export] = {
    "queue": Export(_("Order queue"), BACK_OFFICE, ORDER_COLUMNS, queue_rows),
    "overdue": Export(_("Overdue orders"), BACK_OFFICE, ORDER_COLUMNS, overdue_rows),
    "directory": Export(
        _("Registry"),
        BACK_OFFICE,
        [
            Column(_("Last name"), lambda p: p.last_name),
            Column(_("First name"), lambda p: p.first_name),
            Column(_("National identifier"), lambda p: p.national_id),
            Column(_("RPPS"), lambda p: p.rpps),
            Column(_("ADELI"), lambda p: p.adeli),
            Column(_("Professions"), professions),
            Column(_("Active in the registry"), lambda p: str(_("yes") if p.is_active else _("no"))),
        ],
        directory_rows,
    ),
    "imports": Export(
        _("Registry imports"),
        frozenset({Role.ANS_OPERATOR}),
        [
            Column(_("File"), lambda r: Path(r.file_name).name),
            Column(_("Started"), lambda r: r.started_at),
            Column(_("Finished"), lambda r: r.finished_at),
            Column(_("Status"), lambda r: import_status(r.status)),
            Column(_("Rows read"), lambda r: r.rows_read),
            Column(_("Imported"), lambda r: r.imported),
            Column(_("Updated"), lambda r: r.updated),
            Column(_("Unchanged"), lambda r: r.unchanged),
            Column(_("Rows rejected"), lambda r: r.rejected),
            Column(_("People deactivated"), lambda r: r.deactivated),
        ],
        imports_rows,
    ),
    "print-runs": Export(
        _("Print runs"),
        frozenset({Role.ANS_OPERATOR}),
        [
            Column(_("Day"), lambda b: b.day),
            Column(_("Letters"), lambda b: b.letter_count),
            Column(_("Made on"), lambda b: b.created_at),
        ],
        print_run_rows,
    ),
    "stock": Export(
        _("Blank stock"),
        PRODUCTION_WATCHERS,
        [Column(_("Station"), lambda s: s.name)]
        + [Column(label, attrgetter(state)) for state, label in BlankCard.State.choices],
        stock_rows,
    ),
    "production": Export(
        _("Production"),
        frozenset({Role.ANS_OPERATOR}),
        [
            Column(_("Station"), lambda s: s["name"]),
            Column(_("State"), lambda s: station_state(s["state"])),
            Column(_("Last heartbeat"), lambda s: s["last_heartbeat"]),
            Column(_("Available blanks"), lambda s: s["blanks"].get(BlankCard.State.AVAILABLE, 0)),
            Column(_("Cards made in the last hour"), lambda s: s["cards_last_period"]),
            Column(_("Failures in the last hour"), lambda s: s["failures_last_period"]),
        ],
        production_rows,
    ),
    "shipping": Export(
        _("Shipping"),
        frozenset({Role.ANS_OPERATOR}),
        [
            Column(_("Card number"), lambda c: c.number),
            Column(_("Card type"), lambda c: card_type(c.card_type)),
            Column(_("Last name"), lambda c: c.professional.last_name),
            Column(_("First name"), lambda c: c.professional.first_name),
            Column(_("Made on"), lambda c: c.created_at),
        ],
        shipping_rows,
    ),
    "approvals": Export(
        _("Approvals"),
        BACK_OFFICE,
        [
            Column(_("Request"), lambda r: r.pk),
            Column(_("Action"), lambda r: approvals.label_of(r.action)),
            Column(_("Requested by"), lambda r: r.requested_by.get_username()),
            Column(_("Requested on"), lambda r: r.created_at),
            Column(_("Expires on"), lambda r: r.expires_at),
            Column(_("State"), lambda r: approval_state(r.state)),
        ],
        approval_rows,
    ),
    "my-orders": Export(
        _("My orders"),
        frozenset({Role.HOLDER}),
        [
            Column(_("Order"), lambda o: o.pk),
            Column(_("Card type"), lambda o: card_type(o.card_type)),
            Column(_("Kind"), lambda o: order_kind(o.kind)),
            Column(_("State"), lambda o: order_state(o.state)),
            Column(_("Fee"), lambda o: o.fee),
            Column(_("Created on"), lambda o: o.created_at),
        ],
        my_order_rows,
    ),
    "staff": Export(
        _("Staff"),
        frozenset({Role.STRUCTURE_MANAGER}),
        [
            Column(_("Last name"), lambda m: m.professional.last_name),
            Column(_("First name"), lambda m: m.professional.first_name),
            Column(_("National identifier"), lambda m: m.professional.national_id),
            Column(_("Role"), lambda m: member_role(m.role)),
            Column(_("Card number"), lambda m: (c := latest_card(m)) and c.number),
            Column(_("Card state"), lambda m: (c := latest_card(m)) and card_state(c.state)),
            Column(_("Valid until"), lambda m: (c := latest_card(m)) and c.valid_until),
        ],
        staff_rows,
    ),
    "messages": Export(
        _("Messages"),
        frozenset({Role.HOLDER}),
        [
            Column(_("Received on"), lambda n: n.created_at),
            Column(_("Subject"), lambda n: n.subject),
            Column(_("Read on"), lambda n: n.read_at),
        ],
        message_rows,
    ),
}


def _export(request: HttpRequest, name: str) -> tuple[Export, Iterable[Any], str]:
    spec = EXPORTS.get(name)
    if spec is None:
        raise Http404
    account = account_of(request.user)
    if account is None or account.role not in spec.roles:
        raise PermissionDenied
    filename = f"cpx-{name}-{timezone.localdate():%Y-%m-%d}"
    return spec, spec.rows(request, account), filename


@login_required
def export_csv(request: HttpRequest, name: str) -> StreamingHttpResponse:
    spec, rows, filename = _export(request, name)
    return csv_response(filename=filename, columns=spec.columns, rows=rows)


@login_required
def export_xlsx(request: HttpRequest, name: str) -> FileResponse:
    spec, rows, filename = _export(request, name)
    return xlsx_response(filename=filename, title=str(spec.title), columns=spec.columns, rows=rows)
