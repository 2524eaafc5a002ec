"""Ordering structure cards in batch from a CSV file: a preview first, then one confirmation.

The file has one header line naming its columns (``HEADER``; order free, case and accents ignored) and one
row per card to order, separated by ``;`` or ``,``, in UTF-8 (with or without BOM) or Windows-1252.
Reading it creates nothing: ``batch_preview`` checks every row and gives each its errors (file line number,
column, rule). ``batch_confirm`` checks the rows again against the registry as it is then, and refuses if
anything changed since the preview; otherwise it declares the new staff members (``registry.staff``) and
creates and submits every valid line's order in one transaction: all of them, or none.
"""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import DomainError, InvalidInput
from registry import staff, textfile  # textfile also registers the cpx-latin1-fallback error handler
from registry.models import CardType, Structure, StructureMember

from . import eligibility, services
from .models import Order

HEADER = ["nom", "prenom", "civilite", "email", "mobile", "role", "type_carte", "identifiant"]
REQUIRED = ("nom", "prenom", "type_carte")
MAX_BYTES = 1 << 20
MAX_ROWS = 500
CARD_TYPES = (CardType.CPE, CardType.CPA, CardType.CDE)
ROLE_CODES: dict[str, str] = {
    "personnel": StructureMember.Role.STAFF,
    "personnel_autorise": StructureMember.Role.AUTHORISED,
    "representant_legal": StructureMember.Role.LEGAL_REPRESENTATIVE,
    "mandataire": StructureMember.Role.MANDATAIRE,
    **{role: role for role in StructureMember.Role.values},
}
CIVILITY_CODES = {"m": "M", "mr": "M", "monsieur": "M", "mme": "MME", "madame": "MME", "ms": "MME"}
IDENTITY_COLUMNS = {
    "last_name": "nom",
    "first_name": "prenom",
    "civility": "civilite",
    "email": "email",
    "mobile": "mobile",
}
TEMPLATE_ROWS = [
    ["DURAND", "Sophie", "MME", "sophie.durand@example.fr", "06 12 34 56 78", "personnel", "CPE", ""],
    ["PETIT", "Marc", "M", "", "", "personnel_autorise", "CPA", ""],
]


class BatchFileRefused(InvalidInput):
    code = "batch_file_refused"


class BatchChanged(DomainError):
    code = "batch_changed"
    status = 409
    default_message = gettext_lazy(
        "The structure's staff or orders changed since the preview: check the new preview and confirm again."
    )


@dataclass
class LineError:
    column: str
    rule: str


@dataclass
class BatchLine:
    line: int
    cells: dict[str, str]
    errors: list[LineError] = field(default_factory=list)
    card_type: str = ""
    role: str = ""
    member_id: int | None = None  # an existing member; None: a new staff member, declared on confirmation

    @property
    def is_valid(self) -> bool:
        return not self.errors

    @property
    def role_label(self) -> str:
        return str(StructureMember.Role(self.role).label) if self.role else ""

    @property
    def is_new(self) -> bool:
        return self.member_id is None

    def fail(self, column: str, rule: Any) -> None:
        self.errors.append(LineError(column, str(rule)))


@dataclass
class BatchPreview:
    sha256: str
    file_name: str
    encoding: str
    lines: list[BatchLine]

    @property
    def valid_lines(self) -> list[BatchLine]:
        return [line for line in self.lines if line.is_valid]

    @property
    def invalid_lines(self) -> list[BatchLine]:
        return [line for line in self.lines if not line.is_valid]

    def rows(self) -> list[tuple[int, dict[str, str]]]:
        return [(line.line, line.cells) for line in self.lines]

    def to_data(self) -> dict[str, Any]:
        """What the session keeps between the preview and the confirmation (JSON)."""
        return {
            "sha256": self.sha256,
            "file_name": self.file_name,
            "encoding": self.encoding,
            "rows": [[number, cells] for number, cells in self.rows()],
            "valid": [[line.line, line.member_id] for line in self.valid_lines],
        }


# ---------------------------------------------------------------------------------------------------------
# Reading the file


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8 (a BOM is dropped), else Windows-1252."""
    if data.startswith(textfile.BOM):
        return data[len(textfile.BOM) :].decode("utf-8", errors="replace"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="cpx-latin1-fallback"), "cp1252"


def column_key(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "_".join(plain.strip().lower().replace("-", " ").split())


def read_rows(data: bytes) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """The encoding and the data rows (file line number, cells by column), or BatchFileRefused."""
    if len(data) > MAX_BYTES:
        raise BatchFileRefused(_("The file is larger than 1 MB: split it."), field="file")
    text, encoding = decode(data)
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise BatchFileRefused(_("The file is empty or its first line is not the header."), field="file")
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [column_key(name) for name in next(reader)]
    _check_header(header)
    rows: list[tuple[int, dict[str, str]]] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) == MAX_ROWS:
            raise BatchFileRefused(
                _("The file has more than %(max)d rows: split it.") % {"max": MAX_ROWS}, field="file"
            )
        values = dict.fromkeys(HEADER, "")
        values.update({name: value.strip() for name, value in zip(header, cells, strict=False)})
        if len(cells) > len(header):
            values["_extra"] = "1"
        rows.append((reader.line_num, values))
    return encoding, rows


def _check_header(header: list[str]) -> None:
    expected = ";".join(HEADER)
    unknown = [name for name in header if name not in HEADER]
    missing = [name for name in REQUIRED if name not in header]
    if unknown or missing or len(set(header)) != len(header):
        message = _("The header line must name the columns %(expected)s (%(problem)s).") % {
            "expected": expected,
            "problem": _("unknown: %(names)s") % {"names": ", ".join(unknown)}
            if unknown
            else _("missing: %(names)s") % {"names": ", ".join(missing)}
            if missing
            else _("a column is named twice"),
        }
        raise BatchFileRefused(message, field="file")


def template_csv() -> bytes:
    """The downloadable template: the header and two example rows, UTF-8 with a BOM (opens in Excel)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(TEMPLATE_ROWS)
    return textfile.BOM + out.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------------------------------------
# Checking each row


def check_rows(*, structure: Structure, rows: list[tuple[int, dict[str, str]]]) -> list[BatchLine]:
    members = list(
        StructureMember.objects.filter(structure=structure, is_active=True).select_related("professional")
    )
    seen: dict[tuple[Any, str], int] = {}
    lines = []
    for number, cells in rows:
        line = BatchLine(number, cells)
        _check_line(line, structure, members)
        key = (line.member_id or _name_of(cells), line.card_type)
        if line.is_valid and key in seen:
            line.fail("nom", _("Same person and card as line %(line)d.") % {"line": seen[key]})
        elif line.is_valid:
            seen[key] = number
        lines.append(line)
    return lines


def _name_of(cells: dict[str, str]) -> tuple[str, str]:
    return staff.name_key(cells["nom"]), staff.name_key(cells["prenom"])


def _check_line(line: BatchLine, structure: Structure, members: list[StructureMember]) -> None:
    cells = line.cells
    if cells.get("_extra"):
        line.fail("", _("The row has more cells than the header has columns."))
    _check_card_and_role(line)
    if cells["identifiant"]:
        _find_by_identifier(line, members)
    else:
        _find_by_name(line, members)
    if line.member_id is None and not cells["identifiant"]:
        _check_identity(line)
    elif line.member_id is not None and line.is_valid:
        _check_eligible(line, structure, members)


def _check_card_and_role(line: BatchLine) -> None:
    card_type = line.cells["type_carte"].upper()
    if card_type not in CARD_TYPES:
        line.fail("type_carte", _("The card type must be CPE, CPA or CDE."))
    else:
        line.card_type = card_type
    role_code = column_key(line.cells["role"])
    role = ROLE_CODES.get(role_code) if role_code else staff.CARD_ROLE.get(line.card_type)
    if role is None:
        if role_code:
            allowed = ", ".join(list(ROLE_CODES)[:4])
            line.fail("role", _("The role must be one of %(allowed)s.") % {"allowed": allowed})
        return
    line.role = role
    fitting = staff.card_type_for(role)
    if line.card_type and fitting != line.card_type:
        line.fail("type_carte", role_card_hint(role, line.card_type))


def role_card_hint(role: str, card_type: str) -> str:
    """Why this card does not fit this role, and which one does."""
    label = StructureMember.Role(role).label
    fitting = staff.card_type_for(role)
    if fitting is None:
        return _(
            "An authorised agent is issued no card in that role: declare them in the role the card is for."
        )
    return _("A %(card)s is not for the role “%(role)s”: order a %(fitting)s.") % {
        "card": card_type,
        "role": label,
        "fitting": fitting,
    }


def _find_by_identifier(line: BatchLine, members: list[StructureMember]) -> None:
    wanted = line.cells["identifiant"]
    found = [
        m for m in members if m.professional.national_id == wanted and (not line.role or m.role == line.role)
    ]
    if not found:
        line.fail(
            "identifiant", _("No active staff member of the structure has this identifier in this role.")
        )
        return
    member = found[0]
    if _name_of(line.cells) != (
        staff.name_key(member.professional.last_name),
        staff.name_key(member.professional.first_name),
    ):
        line.fail("nom", _("The name does not match the staff member with this identifier."))
        return
    line.member_id = member.pk


def _find_by_name(line: BatchLine, members: list[StructureMember]) -> None:
    if not (line.cells["nom"] and line.cells["prenom"]):
        return
    name = _name_of(line.cells)
    same_name = [
        m
        for m in members
        if (staff.name_key(m.professional.last_name), staff.name_key(m.professional.first_name)) == name
    ]
    in_role = [m for m in same_name if m.role == line.role]
    if len(in_role) > 1:
        line.fail(
            "identifiant", _("Several staff members have this name: give the identifier of the one meant.")
        )
    elif in_role:
        line.member_id = in_role[0].pk
    elif same_name and line.role:
        role = same_name[0].get_role_display()
        message = _("%(name)s is declared in the structure as “%(role)s”: give the role and card for that.")
        line.fail("role", message % {"name": same_name[0].professional.full_name, "role": role})


def _check_identity(line: BatchLine) -> None:
    cells = line.cells
    civility = CIVILITY_CODES.get(column_key(cells["civilite"]).replace("_", ""), "")
    if cells["civilite"] and not civility:
        line.fail("civilite", _("The civility must be M or MME."))
    for name, value in (("last_name", cells["nom"]), ("first_name", cells["prenom"])):
        if not value:
            line.fail(IDENTITY_COLUMNS[name], _("This column is required for a new staff member."))
    if not (cells["nom"] and cells["prenom"]):
        return
    try:
        staff.staff_identity(
            civility=civility,
            last_name=cells["nom"],
            first_name=cells["prenom"],
            email=cells["email"],
            mobile=cells["mobile"],
        )
    except staff.StaffInvalid as exc:
        line.fail(IDENTITY_COLUMNS.get(exc.field or "", ""), exc.message)


def _check_eligible(line: BatchLine, structure: Structure, members: list[StructureMember]) -> None:
    member = next(m for m in members if m.pk == line.member_id)
    order = Order(
        professional=member.professional,
        structure=structure,
        card_type=line.card_type,
        kind=Order.Kind.FIRST,
    )
    for reason in eligibility.check(order):
        line.fail("type_carte", reason.message)


# ---------------------------------------------------------------------------------------------------------
# The use cases


def batch_preview(*, actor: Any, structure: Structure, data: bytes, file_name: str = "") -> BatchPreview:
    """Read and check the file; nothing is created."""
    encoding, rows = read_rows(data)
    if not rows:
        raise BatchFileRefused(_("The file has a header but no row to order."), field="file")
    lines = check_rows(structure=structure, rows=rows)
    return BatchPreview(file_sha256(data), file_name[:200], encoding, lines)


def batch_from_data(*, structure: Structure, data: dict[str, Any]) -> BatchPreview:
    """The preview kept in the session, checked again against the registry as it is now."""
    rows = [(int(number), dict(cells)) for number, cells in data["rows"]]
    lines = check_rows(structure=structure, rows=rows)
    return BatchPreview(data["sha256"], data["file_name"], data["encoding"], lines)


def batch_confirm(*, actor: Any, structure: Structure, data: dict[str, Any]) -> list[Order]:
    """Declare the new staff and create and submit every valid line's order, in one transaction.

    ``data``: the preview the manager saw (``BatchPreview.to_data``). Refused with ``BatchChanged`` when
    the rows checked now do not give the same valid lines (a member ended, an order placed meanwhile)."""
    with transaction.atomic():
        # The structure's row is the lock for its staff (registry.staff numbers new members under it).
        structure = Structure.objects.select_for_update().get(pk=structure.pk)
        preview = batch_from_data(structure=structure, data=data)
        # The same lines valid, each for the same person (a member ended since reads as a new one).
        if [[line.line, line.member_id] for line in preview.valid_lines] != [list(v) for v in data["valid"]]:
            raise BatchChanged()
        if not preview.valid_lines:
            raise InvalidInput(_("No line of the file can be ordered."))
        return [
            services.order_place(actor=actor, structure=structure, **_order_of(line, actor, structure))
            for line in preview.valid_lines
        ]


def _order_of(line: BatchLine, actor: Any, structure: Structure) -> dict[str, Any]:
    if line.member_id is None:
        cells = line.cells
        member = staff.staff_declare(
            actor=actor,
            structure=structure,
            last_name=cells["nom"],
            first_name=cells["prenom"],
            role=line.role,
            civility=CIVILITY_CODES.get(column_key(cells["civilite"]).replace("_", ""), ""),
            email=cells["email"],
            mobile=cells["mobile"],
        )
    else:
        member = StructureMember.objects.select_related("professional").get(pk=line.member_id)
    return {"professional": member.professional, "card_type": line.card_type, "kind": Order.Kind.FIRST}
