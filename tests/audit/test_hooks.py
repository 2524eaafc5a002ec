"""What reaches the audit log without its owners calling it by hand: the CA's operations (pki.audit.record),
registry imports, operator sign-ins, role and superuser changes."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from audit import log
from audit.models import AuditRecord
from pki import crl, services
from pki.models import AuditEvent
from registry.models import Account
from registry.services import registry_import
from registry.textfile import FileRefused
from tests.approvals.helpers import forced_import_approval
from tests.factories import PASSWORD, UserWithPasswordFactory, authority, persona
from tests.registry.conftest import sample_rows
from tests.registry.test_import_full_guard import many_people

pytestmark = pytest.mark.django_db


def actions(**filters) -> list[str]:
    return list(AuditRecord.objects.filter(**filters).order_by("seq").values_list("action", flat=True))


def last(action: str) -> AuditRecord:
    return AuditRecord.objects.filter(action=action).order_by("-seq")[0]


# --- the CA's operations -----------------------------------------------------------------------------------


def test_each_ca_event_is_also_a_chained_row(hierarchy):
    events = AuditEvent.objects.count()
    chained = AuditRecord.objects.filter(detail__has_key="event").count()
    assert events == chained > 0
    assert {"ca.created", "crl.published", "ocsp.key_certified"} <= set(actions())
    assert log.verify().ok


def test_a_certificate_issue_and_its_revocation_are_chained(issue, django_capture_on_commit_callbacks):
    certificate = issue()
    issued = last("certificate.issued")
    assert (issued.object_type, issued.object_id) == ("certificate", certificate.serial)
    assert issued.actor_name == "pki.services.certificate_issue"
    assert issued.detail["ca"] == certificate.authority.slug
    assert issued.detail["detail"]["card_number"] == certificate.card_number
    with django_capture_on_commit_callbacks(execute=True):
        services.certificate_revoke(certificate=certificate, reason="keyCompromise", actor="ordre_operator:7")
    revoked = last("certificate.revoked")
    assert (revoked.object_id, revoked.actor_name) == (certificate.serial, "ordre_operator:7")
    assert revoked.detail["detail"] == {"reason": "keyCompromise"}
    published = last("crl.published")  # the delta CRL the revocation asked for
    assert published.seq > revoked.seq and published.detail["operation"] == "delta_crl"
    assert log.verify().ok


def test_a_crl_publication_is_chained(hierarchy):
    _, issuing = hierarchy
    row = crl.publish_base(issuing, actor="task pki.publish_base_crls")
    published = last("crl.published")
    assert published.detail["operation"] == "crl" and published.detail["detail"]["number"] == row.number
    assert (published.object_type, published.object_id) == ("certificate_authority", issuing.slug)


def test_a_long_value_goes_to_the_chain_as_its_digest(hierarchy):
    from pki import audit

    audit.record(AuditEvent.Operation.SIGN_DATA, actor="station", detail={"holder_data": "x" * 2000, "n": 1})
    row = last("card_data.signed")
    assert row.detail["detail"]["holder_data"].startswith("sha256:") and row.detail["detail"]["n"] == 1


# --- registry imports --------------------------------------------------------------------------------------


def test_a_committed_import_is_one_row_with_its_counts(write_extraction):
    path = write_extraction()
    result = registry_import(path=path)
    assert actions(action="registry.imported") == ["registry.imported"]
    row = last("registry.imported")
    assert row.object_type == "registry_import" and row.detail["forced"] is False
    (entry,) = row.detail["files"]
    assert entry["file"] == path.name and entry["sha256"] == result.sha256 and entry["kind"] == "extraction"
    assert (entry["rows"], entry["imported"], entry["rejected"]) == (
        result.rows,
        result.imported,
        result.rejected,
    )


def test_a_forced_full_import_is_flagged(write_extraction):
    registry_import(path=write_extraction(many_people(30)))
    path = write_extraction(sample_rows()[:3])
    approval = forced_import_approval(path)
    operator = persona(Account.Role.ANS_OPERATOR)
    registry_import(path=path, full=True, force=True, approval_id=approval, actor=operator)
    row = last("registry.imported")
    assert row.detail["forced"] is True and row.detail["deactivated"] == 31
    assert row.detail["approval_id"] == approval and row.actor_id == operator.pk
    assert row.detail["files"][0]["full"] is True


def test_a_refused_import_leaves_no_row(write_extraction):
    registry_import(path=write_extraction(many_people(30)))
    before = AuditRecord.objects.count()
    with pytest.raises(FileRefused):
        registry_import(path=write_extraction(sample_rows()[:3]), full=True)
    assert AuditRecord.objects.count() == before


# --- sign-ins ----------------------------------------------------------------------------------------------


def test_an_operators_sign_in_is_recorded():
    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    operator.set_password(PASSWORD)
    operator.save()
    response = Client(REMOTE_ADDR="192.0.2.7").post(
        reverse("login"), {"username": operator.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    row = last("operator.signed_in")
    assert (row.actor_id, row.actor_name) == (operator.pk, operator.username)
    assert row.authority_id == authority("CNOM").pk
    assert row.detail == {"role": "authority_operator", "superuser": False, "ip": "192.0.2.7"}


def test_the_auditors_and_a_superusers_sign_ins_are_recorded_too(client):
    client.force_login(persona(Account.Role.AUDITOR))
    client.force_login(UserWithPasswordFactory(is_superuser=True, is_staff=True))
    assert [r.detail["role"] for r in AuditRecord.objects.filter(action="operator.signed_in")] == [
        "auditor",
        "",
    ]


def test_a_holders_sign_in_is_not(client):
    client.force_login(persona(Account.Role.HOLDER))
    client.force_login(persona(Account.Role.STRUCTURE_MANAGER))
    assert actions(action="operator.signed_in") == []


# --- role changes ------------------------------------------------------------------------------------------


def test_an_operator_account_made_changed_and_removed_is_recorded():
    user = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    account = user.account
    made = last("operator.role_changed")
    assert made.detail["before"] is None
    assert made.detail["after"] == {"role": "authority_operator", "authority_id": authority("CNOM").pk}
    account.authority = authority("ANS")
    account.role = Account.Role.ANS_OPERATOR
    account.save()
    changed = last("operator.role_changed")
    assert changed.detail["before"] == {"role": "authority_operator", "authority_id": authority("CNOM").pk}
    assert changed.detail["after"] == {"role": "ans_operator", "authority_id": authority("ANS").pk}
    assert (changed.object_type, changed.object_id) == ("account", str(account.pk))
    assert changed.detail["user"] == user.username
    account.delete()
    removed = last("operator.role_changed")
    assert removed.detail["after"] is None and removed.detail["before"]["role"] == "ans_operator"
    assert log.verify().ok


def test_a_holder_made_an_auditor_is_recorded_but_a_save_changing_no_role_is_not():
    account = persona(Account.Role.HOLDER).account
    assert actions(action="operator.role_changed") == []
    account.save()
    account.role, account.professional = Account.Role.AUDITOR, None
    account.save()
    account.save()
    (row,) = AuditRecord.objects.filter(action="operator.role_changed")
    assert (row.detail["before"]["role"], row.detail["after"]["role"]) == ("holder", "auditor")


def test_a_user_made_superuser_is_recorded_and_a_sign_in_costs_no_such_row():
    user = UserWithPasswordFactory()
    assert actions(action="operator.role_changed") == []
    user.is_superuser = user.is_staff = True
    user.save()
    row = last("operator.role_changed")
    assert row.detail["flags"] == {"is_superuser": [False, True], "is_staff": [False, True]}
    Client().force_login(user)  # saves last_login only
    assert actions(action="operator.role_changed") == ["operator.role_changed"]
    get_user_model().objects.create_superuser("root2", "r@example.test", PASSWORD)
    assert last("operator.role_changed").detail["created"] is True
