"""Issuance policies (issue 16): who reads and changes them, what a change may be, and its audit row."""

from __future__ import annotations

import pytest

from audit.models import AuditRecord
from core.errors import InvalidInput, NotPermitted
from lifecycle import policies
from lifecycle.models import IssuancePolicy
from registry.models import Account
from tests.factories import authority, persona

pytestmark = pytest.mark.django_db

Mode, Trigger = IssuancePolicy.Mode, IssuancePolicy.Trigger


@pytest.fixture
def cnom(db):
    return persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")


@pytest.fixture
def ans(db):
    return persona(Account.Role.ANS_OPERATOR)


def row(code: str, card_type: str, trigger: str, profession: str | None = None) -> IssuancePolicy:
    return IssuancePolicy.objects.get(
        authority__code=code, card_type=card_type, trigger=trigger, profession_id=profession
    )


# --- reading -------------------------------------------------------------------------------------------


def test_an_ordre_operator_reads_their_ordre_s_rows_only(cnom):
    rows = list(policies.policies_for(cnom))
    assert rows and {r.authority.code for r in rows} == {"CNOM"}
    # The defaults: the CPS automatic (approved at once) on registration, the structure cards proposed.
    assert (row("CNOM", "CPS", "first").mode, row("CNOM", "CPS", "first").approve) == (Mode.AUTOMATIC, True)
    assert len(rows) == len([k for k in policies.DEFAULTS if k[0] == "ordre"])


def test_an_ans_operator_reads_ans_s_rows(ans):
    assert {r.authority.code for r in policies.policies_for(ans)} == {"ANS"}
    assert row("ANS", "CPS", "first").mode == Mode.PROPOSED


def test_the_auditor_reads_every_authority_s_rows_and_changes_none():
    auditor = persona(Account.Role.AUDITOR)
    assert {r.authority.code for r in policies.policies_for(auditor)} >= {"CNOM", "CNOP", "ANS"}
    with pytest.raises(NotPermitted):
        policies.policy_set(actor=auditor, card_type="CPS", trigger="first", mode="off", approve=False)


@pytest.mark.parametrize("role", [Account.Role.HOLDER, Account.Role.STRUCTURE_MANAGER])
def test_holders_and_managers_may_not_read_them(role):
    with pytest.raises(NotPermitted):
        policies.policies_for(persona(role))


def test_the_anonymous_may_not_read_them():
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(NotPermitted):
        policies.policies_for(AnonymousUser())


# --- changing ------------------------------------------------------------------------------------------


def test_an_operator_changes_their_ordre_s_row_audited(cnom):
    before = AuditRecord.objects.count()
    policy = policies.policy_set(actor=cnom, card_type="CPS", trigger="first", mode="proposed", approve=False)
    assert (policy.mode, policy.approve, policy.updated_by_id) == ("proposed", False, cnom.pk)
    assert row("CNOM", "CPS", "first").mode == "proposed"
    assert row("CNOP", "CPS", "first").mode == "automatic"  # another Ordre's is untouched
    record = AuditRecord.objects.order_by("-seq").first()
    assert AuditRecord.objects.count() == before + 1
    assert record.action == "issuance_policy.changed"
    assert record.actor_id == cnom.pk and record.authority_id == authority("CNOM").pk
    assert record.object_id == "CPS:first:*"
    assert record.detail == {
        "card_type": "CPS",
        "trigger": "first",
        "profession": None,
        "before": {"mode": "automatic", "approve": True},
        "after": {"mode": "proposed", "approve": False},
    }


def test_an_ans_operator_changes_ans_s_row(ans):
    policies.policy_set(actor=ans, card_type="CPS", trigger="first", mode="automatic", approve=True)
    assert (row("ANS", "CPS", "first").mode, row("ANS", "CPS", "first").approve) == ("automatic", True)
    assert row("CNOM", "CPS", "first").updated_by_id is None


def test_a_profession_row_wins_and_removing_it_falls_back(cnom):
    from django.db import connection

    policies.policy_set(
        actor=cnom, card_type="CPS", trigger="renewal", mode="off", approve=False, profession_code="10"
    )
    assert row("CNOM", "CPS", "renewal", "10").mode == "off"
    assert row("CNOM", "CPS", "renewal").mode == "automatic"

    def in_force() -> str:
        join = policies.policy_join_sql(
            authority="a.id", card_type="'CPS'", trigger="renewal", profession="'10'"
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pol.mode FROM registry_authority a {join} WHERE a.code = 'CNOM'")
            return cursor.fetchone()[0]

    assert in_force() == "off"
    assert policies.policy_remove(actor=cnom, card_type="CPS", trigger="renewal", profession_code="10")
    assert in_force() == "automatic"
    assert not IssuancePolicy.objects.filter(profession_id="10", trigger="renewal").exists()
    record = AuditRecord.objects.order_by("-seq").first()
    assert record.action == "issuance_policy.removed"
    assert record.detail["profession"] == "10" and record.detail["after"] is None
    # Removing it again changes nothing and writes nothing.
    seq = record.seq
    assert not policies.policy_remove(actor=cnom, card_type="CPS", trigger="renewal", profession_code="10")
    assert AuditRecord.objects.order_by("-seq").first().seq == seq


def test_an_ans_profession_row_is_for_an_adeli_profession(ans):
    policies.policy_set(
        actor=ans, card_type="CPS", trigger="first", mode="automatic", approve=False, profession_code="91"
    )
    assert row("ANS", "CPS", "first", "91").mode == "automatic"
    with pytest.raises(policies.PolicyProfessionNotFound):  # CNOM registers médecins, not ANS
        policies.policy_set(
            actor=ans, card_type="CPS", trigger="first", mode="off", approve=False, profession_code="10"
        )


@pytest.mark.parametrize("code", ["21", "91", "9999", "", "1\x00", "12345", None])
def test_a_profession_not_the_ordre_s_is_not_found(cnom, code):
    if code is None:
        code = 10  # not even a string
    with pytest.raises(policies.PolicyProfessionNotFound):
        policies.policy_set(
            actor=cnom, card_type="CPS", trigger="first", mode="off", approve=False, profession_code=code
        )


@pytest.mark.parametrize(
    "card_type, trigger",
    [("CPE", "first"), ("CPS", "training"), ("CPA", "first"), ("XYZ", "renewal"), ("CPS", "birthday")],
)
def test_a_card_type_not_issued_on_the_trigger_is_not_found(cnom, card_type, trigger):
    with pytest.raises(policies.PolicyNotFound):
        policies.policy_set(actor=cnom, card_type=card_type, trigger=trigger, mode="off", approve=False)
    assert not IssuancePolicy.objects.filter(card_type=card_type, trigger=trigger).exists()


@pytest.mark.parametrize(
    "mode, approve, field",
    [
        ("sometimes", True, "mode"),
        ("", False, "mode"),
        ("automatic", "yes", "approve"),
        ("off", 1, "approve"),
    ],
)
def test_a_mode_or_approval_out_of_bounds_is_refused(cnom, mode, approve, field):
    with pytest.raises(InvalidInput) as refused:
        policies.policy_set(actor=cnom, card_type="CPS", trigger="first", mode=mode, approve=approve)
    assert refused.value.field == field
    assert row("CNOM", "CPS", "first").mode == "automatic"


def test_permission_comes_before_validation():
    holder = persona(Account.Role.HOLDER)
    with pytest.raises(NotPermitted):
        policies.policy_set(actor=holder, card_type="XYZ", trigger="nope", mode="bad", approve="x")


def test_an_authority_without_its_rows_gets_one_on_first_change(cnom):
    IssuancePolicy.objects.filter(authority__code="CNOM", card_type="CPS", trigger="update").delete()
    policies.policy_set(actor=cnom, card_type="CPS", trigger="update", mode="proposed", approve=True)
    assert (row("CNOM", "CPS", "update").mode, row("CNOM", "CPS", "update").approve) == ("proposed", True)
    assert AuditRecord.objects.order_by("-seq").first().detail["before"] is None


def test_the_combinations_follow_the_defaults():
    pairs = policies.policy_combinations(authority("CNOM"))
    assert ("first", "CPS") in pairs and ("training", "CPF") in pairs and ("renewal", "CPE") in pairs
    assert ("first", "CPE") not in pairs
    assert pairs[0][0] == "first"  # table order: the triggers' own


def test_the_professions_of_an_authority():
    assert [p.code for p in policies.policy_professions(authority("ONI"))] == ["60", "69"]
    adeli = {p.code for p in policies.policy_professions(authority("ANS"))}
    assert "91" in adeli and "10" not in adeli
