"""/admin/: a superuser creates and changes platform accounts (role and its links checked, every change
audited) and integrator clients (the secret shown once); nobody else may."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from oauth2_provider.models import get_application_model

from audit.models import AuditRecord
from registry.models import Account, IntegratorClient
from tests.api_auth import client_credentials_token
from tests.factories import authority, persona

pytestmark = pytest.mark.django_db
ADD = "/admin/registry/account/add/"
PASSWORD = "Corr3ct-horse-battery"


@pytest.fixture
def admin_client(client):
    superuser = get_user_model().objects.create_superuser("root", "root@example.fr", "x" * 20)
    client.force_login(superuser)
    client.superuser = superuser
    return client


def new_account(admin_client, **fields):
    data = {
        "username": "op.cnom",
        "email": "op@cnom.fr",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "role": "authority_operator",
        "professional": "",
        "structure": "",
        "authority": "",
    }
    data.update(fields)
    return admin_client.post(ADD, data)


def test_a_superuser_creates_an_ordre_operator_with_a_password(admin_client, client):
    cnom = authority("CNOM")
    response = new_account(admin_client, authority=cnom.pk)
    assert response.status_code == 302, response.content.decode()[:2000]
    account = Account.objects.select_related("user").get(user__username="op.cnom")
    assert (account.role, account.authority_id) == ("authority_operator", cnom.pk)
    assert account.user.check_password(PASSWORD) and not account.user.is_staff
    row = AuditRecord.objects.filter(action="account.created").get()
    assert row.actor_id == admin_client.superuser.pk and row.object_id == str(account.pk)
    assert row.authority_id == cnom.pk and row.detail["role"] == "authority_operator"
    assert PASSWORD not in str(row.detail)


@pytest.mark.parametrize(
    ("role", "links", "field"),
    [
        ("authority_operator", {}, "authority"),
        ("holder", {}, "professional"),
        ("structure_manager", {}, "structure"),
        ("ans_operator", {"authority": "CNOM"}, "authority"),
        ("auditor", {"authority": "CNOM"}, "authority"),
    ],
)
def test_the_role_and_its_links_must_fit(admin_client, role, links, field):
    links = {name: authority(code).pk for name, code in links.items()}
    response = new_account(admin_client, role=role, **links)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not get_user_model().objects.filter(username="op.cnom").exists()
    assert not AuditRecord.objects.filter(action="account.created").exists()


def test_an_ans_operator_has_ans_s_authority_or_none(admin_client):
    assert new_account(admin_client, role="ans_operator").status_code == 302
    ans = authority("ANS")
    assert (
        new_account(admin_client, username="op.ans", role="ans_operator", authority=ans.pk).status_code == 302
    )


def test_a_weak_or_mistyped_password_is_refused(admin_client):
    cnom = authority("CNOM")
    assert new_account(admin_client, authority=cnom.pk, password1="a", password2="a").status_code == 200
    assert new_account(admin_client, authority=cnom.pk, password2=PASSWORD + "x").status_code == 200
    assert not Account.objects.filter(user__username="op.cnom").exists()


def test_a_change_of_role_and_authority_is_audited_with_before_and_after(admin_client):
    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    cnop = authority("CNOP")
    url = f"/admin/registry/account/{operator.account.pk}/change/"
    assert admin_client.get(url).status_code == 200
    data = {
        "email": "new@example.fr",
        "is_active": "",
        "role": "authority_operator",
        "professional": "",
        "structure": "",
        "authority": cnop.pk,
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    operator.refresh_from_db()
    assert operator.account.authority_id == cnop.pk and not operator.is_active
    row = AuditRecord.objects.filter(action="account.changed").get()
    assert row.actor_id == admin_client.superuser.pk
    assert row.detail["changes"]["authority_id"] == [authority("CNOM").pk, cnop.pk]
    assert row.detail["changes"]["active"] == [True, False]


def test_a_staff_user_who_is_not_a_superuser_may_not_manage_accounts(client):
    staff = get_user_model().objects.create_user("staff", password="x" * 20, is_staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="registry"))
    client.force_login(staff)
    for url in (ADD, "/admin/registry/account/", "/admin/registry/integratorclient/add/"):
        response = client.get(url)  # the admin site is for superusers (portal.admin_site), and these too
        assert response.status_code in (302, 403) and "/admin/login/" in response.get(
            "Location", "/admin/login/"
        )


def test_an_integrator_client_is_created_for_an_account_and_its_secret_shown_once(admin_client):
    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    response = admin_client.post(
        "/admin/registry/integratorclient/add/", {"account": operator.account.pk, "name": "back office"}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    client_id = re.search(r'id="client-id">([^<]+)<', page).group(1)
    secret = re.search(r'id="client-secret">([^<]+)<', page).group(1)
    integrator = IntegratorClient.objects.select_related("application").get(account=operator.account)
    assert integrator.application.client_id == client_id
    assert secret not in integrator.application.client_secret
    assert check_password(secret, integrator.application.client_secret)
    assert client_credentials_token(client_id, secret)["scope"] == "api:read api:write"
    # Never again: neither the list nor the client's page shows it.
    assert secret not in admin_client.get("/admin/registry/integratorclient/").content.decode()
    detail = admin_client.get(f"/admin/registry/integratorclient/{integrator.pk}/change/").content.decode()
    assert client_id in detail and secret not in detail
    assert AuditRecord.objects.filter(action="integrator_client.created", actor_id=admin_client.superuser.pk)


def test_the_revoke_action_deletes_the_client_and_its_application(admin_client):
    operator = persona(Account.Role.ANS_OPERATOR)
    admin_client.post(
        "/admin/registry/integratorclient/add/", {"account": operator.account.pk, "name": "job"}
    )
    integrator = IntegratorClient.objects.get(account=operator.account)
    response = admin_client.post(
        "/admin/registry/integratorclient/",
        {"action": "revoke", "_selected_action": [integrator.pk]},
    )
    assert response.status_code == 302
    assert not IntegratorClient.objects.exists()
    assert not get_application_model().objects.filter(pk=integrator.application_id).exists()
    assert AuditRecord.objects.filter(action="integrator_client.revoked").exists()
