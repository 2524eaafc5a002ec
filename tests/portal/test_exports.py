"""Exports of the lists: CSV (BOM, ``;``) and XLSX open with the csv module and openpyxl, carry the same rows
as the page with the page's filters and scoping, and a formula typed into a name stays text."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from orders.models import Order
from portal.exports import Column, csv_lines, neutralise
from portal.views.exports import EXPORTS
from registry.models import Profession
from tests.factories import CardFactory, ExerciseFactory, OrderFactory, ProfessionalFactory


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:]), delimiter=";"))


def read_xlsx(response) -> list[list]:
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return [list(row) for row in book.active.iter_rows(values_only=True)]


def order_of(name: str, profession: str = "10", **fields) -> Any:
    person = ProfessionalFactory(last_name=name)
    return OrderFactory(exercise=ExerciseFactory(professional=person, profession_id=profession), **fields)


def page_ids(html: str) -> set[str]:
    return set(re.findall(r'href="/backoffice/orders/(\d+)/"', html))


def test_queue_exports_carry_the_pages_rows_within_scope_and_filters(people, as_user):
    mine = [order_of("DURAND", state=Order.State.SUBMITTED), order_of("MARTIN", state=Order.State.APPROVED)]
    order_of("LEROY", "60", state=Order.State.SUBMITTED)  # ONI's: never in a CNOM export
    client = as_user(people.cnom)
    page = client.get(reverse("portal:queue"))
    assert page_ids(page.text) == {str(o.pk) for o in mine}
    assert reverse("portal:export-csv", args=["queue"]) in page.text  # the page offers its exports

    rows = read_csv(client.get(reverse("portal:export-csv", args=["queue"])))
    with translation.override("fr"):  # the header row is in the reader's language (French by default)
        assert rows[0] == [str(c.header) for c in EXPORTS["queue"].columns]
    assert rows[0][0] == "Commande"
    assert {r[0] for r in rows[1:]} == {str(o.pk) for o in mine}
    assert "LEROY" not in str(rows)
    sheet = read_xlsx(client.get(reverse("portal:export-xlsx", args=["queue"])))
    assert [r[0] for r in sheet[1:]] == [int(r[0]) for r in rows[1:]]
    assert sheet[0] == rows[0]

    # The page's filters are the export's: ?state=approved keeps MARTIN only, on the page and in the file.
    filtered = client.get(reverse("portal:queue"), {"state": "approved"})
    assert page_ids(filtered.text) == {str(mine[1].pk)}
    assert "state=approved" in filtered.text  # the links keep the query string
    rows = read_csv(client.get(reverse("portal:export-csv", args=["queue"]), {"state": "approved"}))
    assert [r[1] for r in rows[1:]] == ["MARTIN"]
    sheet = read_xlsx(client.get(reverse("portal:export-xlsx", args=["queue"]), {"q": "durand"}))
    assert [r[1] for r in sheet[1:]] == ["DURAND"]


def test_a_formula_typed_into_a_name_stays_text(people, as_user):
    order_of('=HYPERLINK("http://evil.example","x")', state=Order.State.SUBMITTED)
    order_of("-2+3", state=Order.State.SUBMITTED)
    client = as_user(people.cnom)
    names = {r[1] for r in read_csv(client.get(reverse("portal:export-csv", args=["queue"])))[1:]}
    assert names == {'\'=HYPERLINK("http://evil.example","x")', "'-2+3"}
    book = load_workbook(io.BytesIO(b"".join(client.get("/exports/queue.xlsx").streaming_content)))
    cells = [row[1] for row in book.active.iter_rows(min_row=2)]
    assert {c.value for c in cells} == names and {c.data_type for c in cells} == {"s"}
    assert (
        neutralise("@SUM(A1)") == "'@SUM(A1)"
        and neutralise("+33 1") == "'+33 1"
        and neutralise("a=b") == "a=b"
    )


def test_csv_is_semicolon_separated_with_a_bom():
    lines = list(
        csv_lines(columns=[Column("A", lambda r: r[0]), Column("B", lambda r: r[1])], rows=[("x;y", 1.5)])
    )
    assert lines == ["\ufeffA;B\r\n", '"x;y";1,5\r\n']


def test_overdue_export_is_the_overdue_list(people, as_user, settings):
    from django.utils import timezone

    late = order_of("ANCIEN", state=Order.State.SUBMITTED)
    order_of("RECENT", state=Order.State.SUBMITTED)
    Order.objects.filter(pk=late.pk).update(state_changed_at=timezone.now() - timezone.timedelta(days=60))
    client = as_user(people.cnom)
    page = client.get(reverse("portal:overdue"))
    assert page_ids(page.text) == {str(late.pk)}
    assert reverse("portal:export-csv", args=["overdue"]) in page.text
    rows = read_csv(client.get("/exports/overdue.csv"))
    assert [r[0] for r in rows[1:]] == [str(late.pk)]


EVERY_ROLE_EXPORT = {
    "holder": ["my-orders", "messages"],
    "manager": ["staff"],
    "cnom": ["queue", "overdue", "directory", "approvals"],
    "auditor": ["queue", "overdue", "directory", "approvals", "stock"],
    "ans": [
        "queue",
        "overdue",
        "directory",
        "imports",
        "print-runs",
        "stock",
        "production",
        "shipping",
        "approvals",
    ],
}


def test_every_export_answers_for_its_roles_only(people, as_user):
    assert sorted(set(sum(EVERY_ROLE_EXPORT.values(), []))) == sorted(EXPORTS)
    for persona, names in EVERY_ROLE_EXPORT.items():
        client = as_user(getattr(people, persona))
        for name in EXPORTS:
            for fmt in ("csv", "xlsx"):
                response = client.get(f"/exports/{name}.{fmt}")
                assert response.status_code == (200 if name in names else 403), (persona, name, fmt)
                if response.status_code == 200:
                    rows = read_csv(response) if fmt == "csv" else read_xlsx(response)
                    assert rows[0] and all(rows[0])  # a header row, every column named
    assert as_user(people.ans).get("/exports/nothing.csv").status_code == 404


def test_holder_and_manager_exports_hold_their_own_rows(people, as_user):
    OrderFactory(exercise=people.card.exercise, professional=people.holder.account.professional)
    OrderFactory(exercise=people.other_card.exercise, professional=people.other_holder.account.professional)
    rows = read_csv(as_user(people.holder).get("/exports/my-orders.csv"))
    assert len(rows) == 2
    member = people.staff_member
    card = CardFactory(
        exercise=None, professional=member.professional, structure=member.structure, card_type="CPE"
    )
    staff = read_csv(as_user(people.manager).get("/exports/staff.csv"))
    assert [r[0] for r in staff[1:]] == [member.professional.last_name]
    assert staff[1][4] == card.number and staff[1][6] == card.valid_until.isoformat()


@pytest.mark.parametrize("persona", ["cnom", "oni"])
def test_directory_export_is_scoped(people, as_user, persona):
    rows = read_csv(as_user(getattr(people, persona)).get("/exports/directory.csv"))
    ids = {r[2] for r in rows[1:]}
    doctor, nurse = people.holder.account.professional, people.other_holder.account.professional
    assert (doctor.national_id in ids, nurse.national_id in ids) == (
        (True, False) if persona == "cnom" else (False, True)
    )


def test_stock_and_imports_exports_hold_the_figures(people, as_user):
    from registry.models import RegistryImport
    from stations.models import BlankCard, ReaderStation

    station = ReaderStation.objects.create(name="lyon", module="/dev/null")
    for n, state in enumerate(["available"] * 3 + ["spoiled"]):
        BlankCard.objects.create(station=station, number=f"80250000019{n:09d}", state=state)
    RegistryImport.objects.create(
        file_name="/srv/cpx/uploads/extraction.txt", file_sha256="0" * 64, rejected=2
    )
    client = as_user(people.ans)
    stock = read_xlsx(client.get("/exports/stock.xlsx"))
    assert stock[1] == ["lyon", 3, 0, 0, 1]
    imports = read_csv(client.get("/exports/imports.csv"))
    assert imports[1][0] == "extraction.txt"  # the file's name, never the server's path
    assert imports[1][8] == "2"


def test_directory_export_follows_the_pages_search(people, as_user):
    for name in ("LEFÈVRE", "LEFEBVRE", "DUPONT"):
        ExerciseFactory(professional=ProfessionalFactory(last_name=name), profession_id="10")
    client = as_user(people.cnom)
    page = client.get(reverse("portal:bo-holders"), {"q": "lefevre"})
    shown = set(re.findall(r'href="/backoffice/holders/(\d+)/"', page.text))
    rows = read_csv(client.get("/exports/directory.csv", {"q": "lefevre"}))
    assert [r[0] for r in rows[1:]] == ["LEFÈVRE"]  # accents ignored, as on the page
    assert len(shown) == 1
    assert rows[1][5] == Profession.objects.get(code="10").label  # the professions are listed
