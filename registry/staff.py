"""A structure's staff, declared by its manager: the people who hold CPE, CPA or CDE cards and who are
in neither the RPPS nor ADELI.

Such a person gets a ``Professional`` row with the national identifier the national directory gives to a
structure's staff: the structure's identifier type (3 FINESS, 4 SIREN, 5 SIRET), the structure's number,
``/`` and a number internal to the structure (``3010780195/000001``). Registry imports never touch these
rows: the extraction files carry only RPPS (8) and ADELI (0) identifiers, a ``--full`` import deactivates
only type 0 and 8 people (``registry.merge``), and no file row can match a staff identifier (the ADELI
match is on the ``adeli`` column, empty here).

A membership is never deleted: ending it marks it inactive with the date, and a staff person with no
membership left is deactivated (so no card can be ordered for them); their cards and orders keep their
history. Every declaration and every end goes to the audit log, in the same transaction.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit import log
from core.errors import InvalidInput, NotFound, NotPermitted
from core.roles import Role, account_of

from . import identifiers
from .models import CardType, Professional, Structure, StructureMember

# The card that fits each role (orders.eligibility checks the same map: tests/registry/test_staff.py).
ROLE_CARD: dict[str, str] = {
    StructureMember.Role.STAFF: CardType.CPE,
    StructureMember.Role.AUTHORISED: CardType.CPA,
    StructureMember.Role.LEGAL_REPRESENTATIVE: CardType.CDE,
}
CARD_ROLE: dict[str, str] = {card: role for role, card in ROLE_CARD.items()}

# Civility codes as the registry files carry them (TRE_R81), with their labels.
CIVILITIES: dict[str, Any] = {"M": _("Mr"), "MME": _("Ms")}
CIVILITY_LABELS = {"M": "Monsieur", "MME": "Madame"}  # the registry's own (French) labels, stored as data

STAFF_ID_TYPES = (Professional.IdType.FINESS, Professional.IdType.SIREN, Professional.IdType.SIRET)
INTERNAL_ID = re.compile(r"[A-Za-z0-9-]{1,16}")
MOBILE = re.compile(r"(?:\+33|0033|0)([67]\d{8})")
STAFF_DEACTIVATION_REASON = "no longer a member of any structure"
# Who may declare and end staff: the structure's manager; ANS and the platform for any structure.
DECLARERS = frozenset({Role.ANS_OPERATOR, Role.SYSTEM})


class StaffInvalid(InvalidInput):
    code = "staff_invalid"


def card_type_for(role: str) -> str | None:
    """The card a member of this role is issued (None: a mandataire orders cards, holds none as such)."""
    return ROLE_CARD.get(role)


def structure_identifier(structure: Structure) -> tuple[str, str]:
    """The structure's identifier type and number for its staff's identifiers: FINESS, else SIRET, else
    SIREN (the national directory's preference)."""
    for id_type, number in (
        (Professional.IdType.FINESS, structure.finess_site or structure.finess_legal),
        (Professional.IdType.SIRET, structure.siret),
        (Professional.IdType.SIREN, structure.siren),
    ):
        if number:
            return id_type, number
    raise StaffInvalid(_("This structure has no FINESS, SIRET or SIREN number: ask ANS to complete it."))


def staff_national_id(*, structure: Structure, internal_id: str) -> str:
    id_type, number = structure_identifier(structure)
    return f"{id_type}{number}/{internal_id}"


def _next_internal_id(prefix: str) -> str:
    """The next free six-digit number after ``prefix`` (the structure row is locked by the caller)."""
    taken = Professional.objects.filter(national_id__startswith=prefix).values_list("national_id", flat=True)
    numbers = [int(rest) for rest in (n[len(prefix) :] for n in taken) if rest.isdigit()]
    return f"{max(numbers, default=0) + 1:06d}"


def _check_actor(actor: Any, structure: Structure) -> None:
    account = account_of(actor)
    if account is not None and account.role in DECLARERS:
        return
    if account is None or account.role != Role.STRUCTURE_MANAGER or account.structure_id != structure.pk:
        raise NotPermitted(_("Only the structure's manager may declare or end its staff."))


def normalise_mobile(value: str) -> str:
    """A French mobile number as +33XXXXXXXXX, or "" when none is given."""
    compact = re.sub(r"[\s.\-()]", "", value or "")
    if not compact:
        return ""
    match = MOBILE.fullmatch(compact)
    if match is None:
        raise StaffInvalid(_("Enter a French mobile number (06 or 07, ten digits)."), field="mobile")
    return "+33" + match.group(1)


def name_key(value: str) -> str:
    """A name compared without accents, case or spacing (homonym detection)."""
    plain = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", plain.lower())


def staff_identity(
    *, civility: str, last_name: str, first_name: str, email: str, mobile: str
) -> dict[str, str]:
    """The identity as stored, or StaffInvalid naming the field at fault."""
    last_name, first_name, email = last_name.strip(), first_name.strip(), email.strip()
    if not last_name:
        raise StaffInvalid(_("Enter the last name."), field="last_name")
    if not first_name:
        raise StaffInvalid(_("Enter the first name."), field="first_name")
    if len(last_name) > 120 or len(first_name) > 120:
        raise StaffInvalid(_("A name has at most 120 characters."), field="last_name")
    if civility and civility not in CIVILITIES:
        raise StaffInvalid(_("Choose Mr or Ms."), field="civility")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise StaffInvalid(_("Enter a valid e-mail address."), field="email") from None
    return {
        "civility_code": civility,
        "civility": CIVILITY_LABELS.get(civility, ""),
        "last_name": last_name.upper(),
        "first_name": first_name,
        "email": email.lower(),
        "mobile": normalise_mobile(mobile),
    }


def homonyms(*, structure: Structure, last_name: str, first_name: str):
    """The structure's active members with this name (accents and case aside)."""
    wanted = (name_key(last_name), name_key(first_name))
    members = StructureMember.objects.filter(structure=structure, is_active=True).select_related(
        "professional"
    )
    return [
        m
        for m in members
        if (name_key(m.professional.last_name), name_key(m.professional.first_name)) == wanted
    ]


def _check_not_declared(structure: Structure, identity: dict[str, str], role: str) -> None:
    """The same person (name and e-mail) declared twice in the same role is a mistake, not a homonym."""
    for member in homonyms(
        structure=structure, last_name=identity["last_name"], first_name=identity["first_name"]
    ):
        same_mail = member.professional.email.lower() == identity["email"]
        if member.role == role and same_mail:
            raise StaffInvalid(
                _("%(name)s is already declared in this role.") % {"name": member.professional.full_name},
                field="last_name",
            )


def staff_declare(
    *,
    actor: Any,
    structure: Structure,
    last_name: str,
    first_name: str,
    role: str,
    civility: str = "",
    email: str = "",
    mobile: str = "",
    job_title: str = "",
    internal_id: str = "",
) -> StructureMember:
    """Declare a new staff member: their registry row (a structure-staff identifier) and their membership."""
    _check_actor(actor, structure)
    if role not in StructureMember.Role.values:
        raise StaffInvalid(_("Choose a role."), field="role")
    identity = staff_identity(
        civility=civility, last_name=last_name, first_name=first_name, email=email, mobile=mobile
    )
    internal_id = internal_id.strip()
    if internal_id and not INTERNAL_ID.fullmatch(internal_id):
        message = _("The internal identifier has 1 to 16 letters, digits or dashes.")
        raise StaffInvalid(message, field="internal_id")
    with transaction.atomic():
        structure = Structure.objects.select_for_update().get(pk=structure.pk)  # one numbering at a time
        _check_not_declared(structure, identity, role)
        id_type, number = structure_identifier(structure)
        prefix = f"{id_type}{number}/"
        national_id = prefix + (internal_id or _next_internal_id(prefix))
        problem = _check_identifier(national_id, id_type)
        if problem:
            raise StaffInvalid(problem, field="internal_id")
        if Professional.objects.filter(national_id=national_id).exists():
            raise StaffInvalid(_("This internal identifier is already used."), field="internal_id")
        person = Professional.objects.create(
            national_id=national_id, id_type=id_type, rpps=None, adeli=None, **identity
        )
        member = StructureMember.objects.create(
            structure=structure,
            professional=person,
            role=role,
            job_title=job_title.strip()[:120],
            declared_by=actor if getattr(actor, "pk", None) else None,
            declared_at=timezone.now(),
        )
        _audit("structure.staff_declared", actor, member)
    return member


def _check_identifier(national_id: str, id_type: str) -> str | None:
    """The directory's rule for 3 (FINESS) and 5 (SIRET); SIREN (4) is checked on its own."""
    if id_type == Professional.IdType.SIREN:
        return identifiers.check_siren(national_id[1:10])
    return identifiers.check_national_id(national_id, id_type)


def staff_end(*, actor: Any, member: StructureMember) -> StructureMember:
    """End a membership (idempotent). A staff person left with no membership is deactivated."""
    _check_actor(actor, member.structure)
    with transaction.atomic():
        member = StructureMember.objects.select_for_update().select_related("professional").get(pk=member.pk)
        if not member.is_active:
            return member
        member.is_active = False
        member.ended_at = timezone.now()
        member.save(update_fields=["is_active", "ended_at"])
        person = member.professional
        others = StructureMember.objects.filter(professional=person, is_active=True)
        if person.id_type in STAFF_ID_TYPES and person.is_active and not others.exists():
            person.is_active = False
            person.deactivated_at = member.ended_at
            person.deactivation_reason = STAFF_DEACTIVATION_REASON
            person.save(update_fields=["is_active", "deactivated_at", "deactivation_reason", "updated_at"])
        _audit("structure.staff_ended", actor, member)
    return member


def member_of(*, structure: Structure, pk: Any) -> StructureMember:
    """An active member of this structure, or NotFound (another structure's member is not found)."""
    member = (
        StructureMember.objects.filter(Q(structure=structure) & Q(is_active=True), pk=pk)
        .select_related("professional", "structure")
        .first()
    )
    if member is None:
        raise NotFound()
    return member


def _audit(action: str, actor: Any, member: StructureMember) -> None:
    person = member.professional
    log.append(
        action,
        actor=actor,
        object_type="structure_member",
        object_id=member.pk,
        detail={
            "structure_id": member.structure_id,
            "national_id": person.national_id,
            "role": member.role,
            "name": person.full_name,
        },
    )
