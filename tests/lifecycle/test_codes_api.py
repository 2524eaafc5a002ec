"""The codes API (lifecycle.api_codes): a codes letter asked for again, the help-desk unblock and its
one-time response; errors as {code, message}; nobody else's card (404)."""

import pytest
from rest_framework.test import APIClient

from core.roles import OPERATORS
from lifecycle.models import CodesReissue, UnblockRequest
from pki import unblock
from registry.models import Account
from tests.factories import PASSWORD, persona

from .test_codes import CHECK
from .test_codes_keys import agent_challenge, agent_puk

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def unblock_keys(pki_dir, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    unblock.ensure_keys()


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["message"], body
    return body


@pytest.fixture
def holder(card, holder_of):
    user = holder_of(card)
    user.set_password(PASSWORD)
    user.save()
    return user


def test_a_holder_asks_again_with_their_password(card, holder):
    url = f"/api/v1/cards/{card.pk}/codes-reissue/"
    assert_error(client_for(holder).post(url, {"password": "not-it"}, format="json"), 400, "wrong_password")
    assert not CodesReissue.objects.exists()
    response = client_for(holder).post(url, {"password": PASSWORD}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["requested_via"] == "holder" and body["approval_state"] == "pending" and body["fee"] is None
    assert body["reference"].startswith("RC-") and body["card"] == card.pk
    assert (
        PASSWORD not in response.content.decode()
        and PASSWORD not in CodesReissue.objects.get().identity_check
    )


def test_an_operator_must_say_how_they_checked_the_identity(card, cnom):
    url = f"/api/v1/cards/{card.pk}/codes-reissue/"
    assert_error(client_for(cnom).post(url, {}, format="json"), 400, "identity_check_required")
    response = client_for(cnom).post(url, {"identity_check": CHECK}, format="json")
    assert response.status_code == 201 and response.json()["requested_via"] == "operator"


def test_strangers_get_404(card):
    for stranger in (
        persona(Account.Role.HOLDER),
        persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI"),
        persona(Account.Role.AUDITOR),
    ):
        client = client_for(stranger)
        assert_error(
            client.post(f"/api/v1/cards/{card.pk}/codes-reissue/", {"identity_check": CHECK}, format="json"),
            404,
            "not_found",
        )
        assert_error(
            client.post(
                f"/api/v1/cards/{card.pk}/unblock-requests/",
                {"challenge": agent_challenge()[1], "identity_check": CHECK},
                format="json",
            ),
            # Not an operator: not permitted at all; an operator of another authority: no such card.
            404 if stranger.account.role in OPERATORS else 403,
            "not_found" if stranger.account.role in OPERATORS else "not_permitted",
        )


def test_the_help_desk_response_is_shown_once_to_the_requester_after_the_approval(
    card, ans, cnom, django_capture_on_commit_callbacks
):
    key, challenge = agent_challenge()
    opened = client_for(ans).post(
        f"/api/v1/cards/{card.pk}/unblock-requests/",
        {"challenge": challenge, "identity_check": CHECK},
        format="json",
    )
    assert opened.status_code == 201, opened.content
    row = opened.json()
    assert row["state"] == "pending" and row["challenge"] == challenge
    response_url = f"/api/v1/unblock-requests/{row['id']}/response/"
    assert_error(client_for(ans).post(response_url), 403, "approval_required")
    assert_error(
        client_for(ans).post(f"/api/v1/approvals/{row['approval_request']}/approve/", {}, format="json"),
        403,
        "self_approval",
    )

    with django_capture_on_commit_callbacks(execute=True):
        approved = client_for(cnom).post(
            f"/api/v1/approvals/{row['approval_request']}/approve/", {}, format="json"
        )
    assert approved.status_code == 200, approved.content
    assert client_for(cnom).get(f"/api/v1/unblock-requests/{row['id']}/").json()["state"] == "ready"
    assert_error(client_for(cnom).post(response_url), 403, "not_permitted")

    shown = client_for(ans).post(response_url)
    assert shown.status_code == 200, shown.content
    assert "no-store" in shown["Cache-Control"]
    body = shown.json()
    assert body["display"] == f"{body['response'][:4]} {body['response'][4:]}"
    assert agent_puk(key, body["response"], card.number) == unblock.puk_for(card.number, card.puk_key_version)
    assert_error(client_for(ans).post(response_url), 410, "response_gone")
    assert UnblockRequest.objects.get().response_sealed is None


def test_a_bad_or_reused_challenge_is_refused(card, ans):
    url = f"/api/v1/cards/{card.pk}/unblock-requests/"
    body = assert_error(
        client_for(ans).post(url, {"challenge": "QWER-TYUI", "identity_check": CHECK}, format="json"),
        400,
        "bad_challenge",
    )
    assert "challenge" in body["fields"]
    _key, challenge = agent_challenge()
    first = client_for(ans).post(url, {"challenge": challenge, "identity_check": CHECK}, format="json")
    assert first.status_code == 201
    # The same card again while the first waits: decide on that one (or cancel it).
    assert_error(
        client_for(ans).post(
            url, {"challenge": agent_challenge()[1], "identity_check": CHECK}, format="json"
        ),
        409,
        "already_requested",
    )


def test_the_request_is_visible_to_the_card_operators_only(card, ans, cnom):
    _key, challenge = agent_challenge()
    row = (
        client_for(ans)
        .post(
            f"/api/v1/cards/{card.pk}/unblock-requests/",
            {"challenge": challenge, "identity_check": CHECK},
            format="json",
        )
        .json()
    )
    assert client_for(cnom).get(f"/api/v1/unblock-requests/{row['id']}/").status_code == 200
    oni = persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI")
    assert_error(client_for(oni).get(f"/api/v1/unblock-requests/{row['id']}/"), 404, "not_found")
    assert_error(client_for(oni).post(f"/api/v1/unblock-requests/{row['id']}/response/"), 404, "not_found")
