"""Ordering structure cards in batch from a CSV file (orders.batch): the preview creates nothing and gives
each bad line its error; the confirmation orders every valid line in one transaction, or nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from orders import batch
from orders import services as order_services
from orders.models import Order
from registry.models import Account, CardType, Professional, StructureMember
from tests.factories import StaffFactory, StructureFactory, StructureMemberFactory, persona
from tests.portal.test_manager import structure_catalogue  # noqa: F401  (fixture: this area's French)

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
THREE_AND_ONE_BAD = FIXTURES / "batch_three_and_one_bad.csv"
WINDOWS_1252 = FIXTURES / "batch_windows_1252_comma.csv"


@pytest.fixture
def structure():
    return StructureFactory(finess_site="010780195", name="Centre de santé des Lilas")


@pytest.fixture
def manager(structure):
    return persona(Account.Role.STRUCTURE_MANAGER, structure=structure)


def csv_bytes(*rows: list[str], header: list[str] | None = None, delimiter: str = ";") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header or batch.HEADER)
    writer.writerows(rows)
    return out.getvalue().encode()


def row(
    nom: str, prenom: str, type_carte: str, role: str = "", identifiant: str = "", email: str = ""
) -> list[str]:
    cells = {"nom": nom, "prenom": prenom, "type_carte": type_carte, "role": role, "identifiant": identifiant}
    cells["email"] = email
    return [cells.get(name, "") for name in batch.HEADER]


def preview_of(manager, structure, data: bytes) -> batch.BatchPreview:
    return batch.batch_preview(actor=manager, structure=structure, data=data, file_name="staff.csv")


def errors_of(preview: batch.BatchPreview) -> dict[int, list[tuple[str, str]]]:
    return {line.line: [(e.column, e.rule) for e in line.errors] for line in preview.invalid_lines}


def test_the_preview_gives_each_bad_line_its_number_column_and_rule_and_creates_nothing(manager, structure):
    preview = preview_of(manager, structure, THREE_AND_ONE_BAD.read_bytes())
    assert [line.line for line in preview.lines] == [2, 3, 4, 5]
    assert [line.line for line in preview.valid_lines] == [2, 3, 5]
    assert errors_of(preview) == {
        4: [("type_carte", "La CPE ne correspond pas au rôle « Représentant légal » : commandez une CDE.")]
    }
    assert preview.encoding == "utf-8-sig" and len(preview.sha256) == 64
    assert not Professional.objects.exists() and not Order.objects.exists()


def test_confirming_declares_the_new_staff_and_submits_every_valid_line(manager, structure):
    preview = preview_of(manager, structure, THREE_AND_ONE_BAD.read_bytes())
    orders = batch.batch_confirm(actor=manager, structure=structure, data=preview.to_data())
    assert [(o.professional.last_name, o.card_type, o.state) for o in orders] == [
        ("LEFÈVRE", "CPE", "submitted"),
        ("GARNIER", "CPA", "submitted"),
        ("FAURE", "CPE", "submitted"),
    ]
    assert {o.authority.code for o in orders} == {"ANS"} and {o.structure for o in orders} == {structure}
    members = StructureMember.objects.filter(structure=structure).order_by("pk")
    assert [(m.professional.last_name, m.role) for m in members] == [
        ("LEFÈVRE", "staff"),
        ("GARNIER", "authorised"),
        ("FAURE", "staff"),
    ]
    lefevre = members[0].professional
    assert (lefevre.email, lefevre.mobile, lefevre.civility_code) == (
        "elodie.lefevre@example.fr",
        "+33611223344",
        "MME",
    )
    assert not Professional.objects.filter(last_name="BONNET").exists()


def test_a_failure_half_way_through_the_confirmation_leaves_nothing(manager, structure, monkeypatch):
    preview = preview_of(manager, structure, THREE_AND_ONE_BAD.read_bytes())
    real, calls = order_services.order_place, []

    def fail_on_the_third(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return real(**kwargs)

    monkeypatch.setattr(order_services, "order_place", fail_on_the_third)
    with pytest.raises(RuntimeError):
        batch.batch_confirm(actor=manager, structure=structure, data=preview.to_data())
    assert not Order.objects.exists() and not StructureMember.objects.exists()
    assert not Professional.objects.exists()


def test_the_confirmation_is_refused_when_things_changed_since_the_preview(manager, structure):
    member = StructureMemberFactory(
        structure=structure, professional=StaffFactory(last_name="ROUX", first_name="Léa")
    )
    data = csv_bytes(row("Roux", "Lea", "CPE"), row("Neuf", "Jean", "CPE"))
    preview = preview_of(manager, structure, data)
    assert [line.member_id for line in preview.lines] == [member.pk, None]  # found by name, accents aside
    order_services.order_place(
        actor=manager, professional=member.professional, card_type="CPE", kind="first", structure=structure
    )
    with pytest.raises(batch.BatchChanged):
        batch.batch_confirm(actor=manager, structure=structure, data=preview.to_data())
    assert Order.objects.count() == 1 and not Professional.objects.filter(last_name="NEUF").exists()
    again = batch.batch_from_data(structure=structure, data=preview.to_data())
    assert errors_of(again) == {2: [("type_carte", "Une autre commande pour cette carte est déjà en cours.")]}


def test_a_windows_1252_file_separated_by_commas_with_a_header_in_another_case(manager, structure):
    preview = preview_of(manager, structure, WINDOWS_1252.read_bytes())
    assert preview.encoding == "cp1252" and not preview.invalid_lines
    assert [(line.cells["nom"], line.cells["prenom"], line.role) for line in preview.lines] == [
        ("MÉNARD", "Zoé", "staff"),
        ("ŒUVRARD", "François", "authorised"),
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (["nom", "prenom", "carte"], "inconnues : carte"),
        (["nom", "type_carte"], "manquantes : prenom"),
        (["nom", "prenom", "type_carte", "nom"], "nommée deux fois"),
    ],
)
def test_a_file_with_a_bad_header_is_refused_whole(manager, structure, header, message):
    with pytest.raises(batch.BatchFileRefused, match=message):
        preview_of(manager, structure, csv_bytes(["A", "B", "CPE"], header=header))


def test_an_empty_or_headless_file_is_refused(manager, structure):
    with pytest.raises(batch.BatchFileRefused, match="vide"):
        preview_of(manager, structure, b"")
    with pytest.raises(batch.BatchFileRefused, match="aucune ligne"):
        preview_of(manager, structure, csv_bytes())


def test_each_rule_of_a_row(manager, structure):
    known = StructureMemberFactory(
        structure=structure, professional=StaffFactory(last_name="MOREL", first_name="Luc")
    )
    StructureMemberFactory(
        structure=structure,
        professional=StaffFactory(last_name="SIMON", first_name="Eva"),
        role=StructureMember.Role.LEGAL_REPRESENTATIVE,
    )
    data = csv_bytes(
        row("", "Jean", "CPE"),  # 2
        row("Petit", "Jean", "CPX"),  # 3
        row("Petit", "Jean", "CPE", role="chef"),  # 4
        row("Petit", "Jean", "CPE", email="jean@"),  # 5
        row("Morel", "Luc", "CPE", identifiant="3010780195/999999"),  # 6
        row("Autre", "Nom", "CPE", identifiant=known.professional.national_id),  # 7
        row("Morel", "Luc", "CPE", identifiant=known.professional.national_id),  # 8: valid
        row("MOREL", "luc", "CPE"),  # 9: same as line 8
        row("Simon", "Eva", "CPE"),  # 10: she is the legal representative
        row("Simon", "Eva", "CDE"),  # 11: valid
        row("Mandat", "Aire", "CPE", role="mandataire"),  # 12
    )
    errors = errors_of(preview_of(manager, structure, data))
    assert errors == {
        2: [("nom", "Cette colonne est obligatoire pour un nouveau membre du personnel.")],
        3: [("type_carte", "Le type de carte doit être CPE, CPA ou CDE.")],
        4: [
            (
                "role",
                "Le rôle doit être l'un de : personnel, personnel_autorise, representant_legal, mandataire.",
            )
        ],
        5: [("email", "Saisissez une adresse électronique valide.")],
        6: [
            (
                "identifiant",
                "Aucun membre actif du personnel de la structure n'a cet identifiant dans ce rôle.",
            )
        ],
        7: [("nom", "Le nom ne correspond pas au membre du personnel qui a cet identifiant.")],
        9: [("nom", "Même personne et même carte qu'à la ligne 8.")],
        10: [
            (
                "role",
                "Eva SIMON est déclaré(e) dans la structure comme « Représentant légal » : "
                "indiquez ce rôle et la carte correspondante.",
            )
        ],
        12: [
            (
                "type_carte",
                "Un mandataire ne reçoit pas de carte à ce titre : "
                "déclarez-le dans le rôle auquel la carte correspond.",
            )
        ],
    }


def test_another_structures_member_is_not_found_by_identifier(manager, structure):
    stranger = StructureMemberFactory(professional=StaffFactory(last_name="LOIN", first_name="Max"))
    data = csv_bytes(row("Loin", "Max", "CPE", identifiant=stranger.professional.national_id))
    assert list(errors_of(preview_of(manager, structure, data))) == [2]


def test_the_template_reads_back_as_a_valid_file(manager, structure):
    template = batch.template_csv()
    assert template.startswith(b"\xef\xbb\xbf" + ";".join(batch.HEADER).encode())
    preview = preview_of(manager, structure, template)
    assert len(preview.valid_lines) == len(batch.TEMPLATE_ROWS) and not preview.invalid_lines
    assert [line.card_type for line in preview.lines] == [CardType.CPE, CardType.CPA]


def test_too_many_rows_are_refused(manager, structure, monkeypatch):
    monkeypatch.setattr(batch, "MAX_ROWS", 2)
    with pytest.raises(batch.BatchFileRefused, match="plus de 2 lignes"):
        preview_of(manager, structure, csv_bytes(*(row(f"N{i}", "P", "CPE") for i in range(3))))
