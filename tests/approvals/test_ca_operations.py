"""The CA's operations (the OCSP key roll, the root's CRL) run only with a second ANS operator's approval:
without ``--approval`` the command asks for one and does nothing else."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from approvals import errors
from approvals import services as approvals
from approvals.models import ApprovalRequest
from pki import ca_approvals
from pki.models import Crl, OcspResponder
from registry.models import Account
from tests.factories import persona
from tests.pki.conftest import ca_keys, hierarchy, pki_dir  # noqa: F401 (fixtures)

from .helpers import ans_operators, granted

pytestmark = pytest.mark.django_db

COMMANDS = {
    ca_approvals.OCSP_ROLL: ("pki_ocsp_roll",),
    ca_approvals.ROOT_CRL: ("pki_root", "crl"),
}


def crls() -> int:
    return Crl.objects.count()


def responders() -> int:
    return OcspResponder.objects.count()


@pytest.mark.parametrize("action", COMMANDS, ids=lambda a: a.split(".")[1])
def test_without_approval_the_command_asks_and_changes_nothing(hierarchy, action):  # noqa: F811
    alice = ans_operators(1)[0]
    before = (crls(), responders())
    out = StringIO()
    with pytest.raises(CommandError) as stopped:
        call_command(*COMMANDS[action], operator=alice.username, stdout=out)
    assert stopped.value.returncode == 2
    asked = ApprovalRequest.objects.get()
    assert (asked.action, asked.requested_by, asked.state) == (action, alice, "pending")
    assert f"approval request {asked.pk} created" in out.getvalue()
    assert (crls(), responders()) == before


@pytest.mark.parametrize("action", COMMANDS, ids=lambda a: a.split(".")[1])
def test_the_requester_cannot_approve_and_a_pending_request_runs_nothing(hierarchy, action):  # noqa: F811
    alice = ans_operators(1)[0]
    asked = approvals.request(actor=alice, payload={}, summary="x", **ca_approvals.target(action))
    with pytest.raises(errors.SelfApproval):
        approvals.decide(request_id=asked.pk, actor=alice, approve=True)
    before = (crls(), responders())
    with pytest.raises(CommandError, match="approval_required"):
        call_command(*COMMANDS[action], approval=asked.pk, stdout=StringIO())
    assert (crls(), responders()) == before


def test_an_ordre_operator_may_neither_ask_nor_approve(hierarchy):  # noqa: F811
    cnom = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    with pytest.raises(CommandError, match="not_permitted"):
        call_command("pki_root", "crl", operator=cnom.username, stdout=StringIO())
    alice = ans_operators(1)[0]
    asked = approvals.request(
        actor=alice, payload={}, summary="x", **ca_approvals.target(ca_approvals.ROOT_CRL)
    )
    assert not approvals.may_decide(cnom, asked)


def test_the_root_crl_is_signed_once_approved_and_the_approval_used_once(hierarchy):  # noqa: F811
    approval = granted(**ca_approvals.target(ca_approvals.ROOT_CRL)).pk
    before = crls()
    out = StringIO()
    call_command("pki_root", "crl", approval=approval, stdout=out)
    assert "CRL #" in out.getvalue() and crls() == before + 1
    with pytest.raises(CommandError, match="déjà été utilisée"):
        call_command("pki_root", "crl", approval=approval, stdout=StringIO())
    assert crls() == before + 1


def test_the_ocsp_roll_runs_once_approved(hierarchy):  # noqa: F811
    approval = granted(**ca_approvals.target(ca_approvals.OCSP_ROLL)).pk
    before = responders()
    call_command("pki_ocsp_roll", approval=approval, stdout=StringIO())
    assert responders() > before


def test_an_approval_of_one_operation_does_not_permit_another(hierarchy):  # noqa: F811
    approval = granted(**ca_approvals.target(ca_approvals.OCSP_ROLL)).pk
    before = crls()
    with pytest.raises(CommandError, match="approval_required"):
        call_command("pki_root", "crl", approval=approval, stdout=StringIO())
    assert crls() == before


def test_a_failed_operation_leaves_the_approval_unused(hierarchy, settings):  # noqa: F811
    approval = granted(**ca_approvals.target(ca_approvals.ROOT_CRL))
    settings.CPX_ROOT_TOKEN_PIN = ""  # no root PIN in this process
    with pytest.raises(CommandError, match="CPX_ROOT_TOKEN_PIN"):
        call_command("pki_root", "crl", approval=approval.pk, stdout=StringIO())
    approval.refresh_from_db()
    assert approval.used_at is None
