"""Declaring and ending a structure's staff (registry.staff): the directory's identifiers for staff, who may
do it, the audit trail, and registry imports that leave these people alone."""

from __future__ import annotations

import pytest

from audit.models import AuditRecord
from core.errors import NotPermitted
from orders.eligibility import STRUCTURE_ROLE_FOR
from registry import staff
from registry.identifiers import check_national_id
from registry.models import Account, Professional, StructureMember
from registry.services import registry_import
from tests.factories import StructureFactory, StructureMemberFactory, persona

from .conftest import sample_row, sample_rows

pytestmark = pytest.mark.django_db

FINESS, SIRET, SIREN = "010780195", "77220148900022", "772201489"


@pytest.fixture
def structure():
    return StructureFactory(finess_site=FINESS)


@pytest.fixture
def manager(structure):
    return persona(Account.Role.STRUCTURE_MANAGER, structure=structure)


def declare(manager, structure, **changes):
    fields = {"last_name": "Dupré", "first_name": "Anne", "role": StructureMember.Role.STAFF} | changes
    return staff.staff_declare(actor=manager, structure=structure, **fields)


def test_a_declared_member_gets_the_directorys_identifier_for_structure_staff(manager, structure):
    member = declare(
        manager, structure, civility="MME", email="Anne.Dupre@Example.fr", mobile="06 12 34 56 78"
    )
    person = member.professional
    assert person.national_id == f"3{FINESS}/000001"
    assert check_national_id(person.national_id, "3") is None
    assert (person.id_type, person.rpps, person.adeli) == ("3", None, None)
    assert (person.last_name, person.first_name, person.civility) == ("DUPRÉ", "Anne", "Madame")
    assert (person.email, person.mobile) == ("anne.dupre@example.fr", "+33612345678")
    assert (member.declared_by, member.is_active) == (manager, True)
    assert member.declared_at is not None


def test_numbers_follow_each_other_and_an_internal_identifier_may_be_given(manager, structure):
    declare(manager, structure)
    second = declare(manager, structure, last_name="Roux")
    mine = declare(manager, structure, last_name="Blanc", internal_id="MAT-42")
    assert second.professional.national_id.endswith("/000002")
    assert mine.professional.national_id == f"3{FINESS}/MAT-42"
    with pytest.raises(staff.StaffInvalid, match="already used"):
        declare(manager, structure, last_name="Noir", internal_id="MAT-42")


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        ({"finess_site": "", "siret": SIRET}, f"5{SIRET}/000001"),
        ({"finess_site": "", "siren": SIREN}, f"4{SIREN}/000001"),
    ],
)
def test_a_structure_without_finess_uses_its_siret_then_its_siren(numbers, expected):
    structure = StructureFactory(**numbers)
    manager = persona(Account.Role.STRUCTURE_MANAGER, structure=structure)
    assert declare(manager, structure).professional.national_id == expected


def test_a_structure_without_any_number_cannot_declare_staff():
    structure = StructureFactory(finess_site="")
    manager = persona(Account.Role.STRUCTURE_MANAGER, structure=structure)
    with pytest.raises(staff.StaffInvalid, match="FINESS"):
        declare(manager, structure)
    assert not Professional.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"last_name": " "}, "last_name"),
        ({"first_name": ""}, "first_name"),
        ({"email": "not-an-address"}, "email"),
        ({"mobile": "01 23 45 67 89"}, "mobile"),
        ({"civility": "DR"}, "civility"),
        ({"role": "chef"}, "role"),
        ({"internal_id": "a/b"}, "internal_id"),
    ],
)
def test_bad_identities_are_refused_with_the_field_at_fault(manager, structure, changes, field):
    with pytest.raises(staff.StaffInvalid) as refused:
        declare(manager, structure, **changes)
    assert refused.value.field == field
    assert not StructureMember.objects.exists()


def test_the_same_person_in_the_same_role_is_not_declared_twice(manager, structure):
    declare(manager, structure, email="a@example.fr")
    with pytest.raises(staff.StaffInvalid, match="already declared"):
        declare(manager, structure, last_name="DUPRE", first_name="anne", email="A@example.fr")
    declare(manager, structure, email="other@example.fr")  # a homonym, with another address


def test_only_the_structures_own_manager_may_declare(structure):
    other = persona(Account.Role.STRUCTURE_MANAGER, structure=StructureFactory())
    holder = persona(Account.Role.HOLDER, professional=StructureMemberFactory().professional)
    for actor in (other, holder):
        with pytest.raises(NotPermitted):
            declare(actor, structure)
    assert declare(persona(Account.Role.ANS_OPERATOR), structure).professional.national_id


def test_declaring_and_ending_are_audited(manager, structure):
    member = declare(manager, structure)
    staff.staff_end(actor=manager, member=member)
    records = AuditRecord.objects.filter(object_type="structure_member", object_id=str(member.pk))
    actions = list(records.order_by("seq").values_list("action", "actor_id"))
    assert actions == [("structure.staff_declared", manager.pk), ("structure.staff_ended", manager.pk)]
    assert records.first().detail["national_id"] == member.professional.national_id


def test_ending_a_membership_deactivates_a_person_left_with_none(manager, structure):
    member = declare(manager, structure)
    ended = staff.staff_end(actor=manager, member=member)
    assert (ended.is_active, ended.ended_at is not None) == (False, True)
    person = Professional.objects.get(pk=member.professional_id)
    assert (person.is_active, person.deactivation_reason) == (False, staff.STAFF_DEACTIVATION_REASON)
    assert staff.staff_end(actor=manager, member=member).ended_at == ended.ended_at  # idempotent


def test_ending_one_of_two_memberships_keeps_the_person_active(manager, structure):
    member = declare(manager, structure)
    StructureMemberFactory(professional=member.professional, role=StructureMember.Role.AUTHORISED)
    staff.staff_end(actor=manager, member=member)
    assert Professional.objects.get(pk=member.professional_id).is_active


def test_another_structures_member_is_not_found(manager, structure):
    stranger = StructureMemberFactory()
    with pytest.raises(staff.NotFound):
        staff.member_of(structure=structure, pk=stranger.pk)
    with pytest.raises(NotPermitted):
        staff.staff_end(actor=manager, member=stranger)


def test_the_card_for_each_role_is_the_one_eligibility_checks():
    assert {card: role for role, card in staff.ROLE_CARD.items()} == STRUCTURE_ROLE_FOR
    assert staff.card_type_for(StructureMember.Role.MANDATAIRE) is None


def test_a_full_import_never_strikes_off_declared_staff(manager, structure, write_extraction, settings):
    settings.CPX_IMPORT_MAX_DEACTIVATION_SHARE = 0.5
    member = declare(manager, structure)
    registry_import(path=write_extraction(sample_rows()), full=True)
    result = registry_import(path=write_extraction(sample_rows()[:3]), full=True)  # the optician goes
    assert result.deactivated == 1  # the optician only: staff are not counted, nor struck off
    person = Professional.objects.get(pk=member.professional_id)
    assert person.is_active and person.deactivated_at is None
    assert StructureMember.objects.get(pk=member.pk).is_active


def test_an_import_row_bearing_a_staff_identifier_is_rejected_not_merged(
    manager, structure, write_extraction
):
    person = declare(manager, structure).professional
    row = sample_row(2, id_type="3", identifier=FINESS, national_id=person.national_id, last_name="AUTRE")
    result = registry_import(path=write_extraction([*sample_rows(), row]))
    assert result.rejected >= 1
    person.refresh_from_db()
    assert (person.last_name, person.id_type, person.exercises.count()) == ("DUPRÉ", "3", 0)
