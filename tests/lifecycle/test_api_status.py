"""The card status API (lifecycle.api_status): what the national directory publishes of a card, for integrator
clients with the scope ``card-status`` only; limited like the other APIs; in the OpenAPI schema."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.conf import settings as django_settings
from django.test import Client, RequestFactory
from django.urls import resolve
from django.utils import timezone
from rest_framework.test import APIClient

from cards.models import Card, CardEvent
from lifecycle.opposition import card_declare_opposition
from registry.models import Account
from tests.api_auth import basic, client_credentials_token, integrator_credentials
from tests.factories import CardFactory, persona

from .conftest import card_of_an_order

pytestmark = pytest.mark.django_db
URL = "/api/v1/card-status/"


def bearer(user, scope: str = "card-status") -> APIClient:
    client_id, secret = integrator_credentials(user, name="relying party")
    token = client_credentials_token(client_id, secret, scope=scope)["access_token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def relying_party(db):
    return bearer(persona(Account.Role.STRUCTURE_MANAGER))


def test_one_card_reads_as_the_directory_publishes_it(relying_party):
    card = CardFactory(state=Card.State.ACTIVE)
    body = relying_party.get(f"{URL}{card.number}").json()
    assert body == {
        "card_type": "CPS",
        "number": card.number,
        "valid_from": card.valid_from.isoformat(),
        "valid_until": card.valid_until.isoformat(),
        "state": "active",
        "opposed_on": None,
        "holder": card.professional.national_id,
    }
    # Its printed form (with the slash) and a trailing slash read the same card.
    assert relying_party.get(f"{URL}{card.display_number}/").json()["number"] == card.number


def test_an_opposed_card_says_since_when(relying_party, hierarchy):
    card = card_of_an_order()
    holder = persona(Account.Role.HOLDER, professional=card.professional)
    card_declare_opposition(card=card, reason="stolen", actor=holder, channel="online")
    body = relying_party.get(f"{URL}{card.number}").json()
    assert body["state"] == "opposed"
    opposed_at = CardEvent.objects.get(card=card, kind="opposed").at
    assert body["opposed_on"] == timezone.localtime(opposed_at).date().isoformat()  # the day in France


def test_an_unknown_card_is_404(relying_party):
    response = relying_party.get(f"{URL}80250000010000000000")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_holders_cards_by_national_id_or_rpps_newest_first(relying_party):
    old = CardFactory(state=Card.State.EXPIRED, valid_from=dt.date(2020, 1, 1))
    professional = old.professional
    professional.rpps = "10101010101"
    professional.save(update_fields=["rpps"])
    new = CardFactory(exercise=old.exercise, valid_from=dt.date(2023, 1, 1))
    CardFactory()  # someone else's
    for holder in (professional.national_id, "10101010101"):
        results = relying_party.get(URL, {"holder": holder}).json()["results"]
        assert [(r["number"], r["state"]) for r in results] == [
            (new.number, "active"),
            (old.number, "expired"),
        ]
    assert relying_party.get(URL, {"holder": "00000000000"}).json() == {"results": []}
    assert relying_party.get(URL).status_code == 400
    assert relying_party.get(URL, {"holder": "x" * 40}).status_code == 400


def test_without_a_token_or_with_a_session_it_is_401():
    card = CardFactory()
    assert APIClient().get(f"{URL}{card.number}").status_code == 401
    session = Client()
    session.force_login(persona(Account.Role.ANS_OPERATOR))
    assert session.get(f"{URL}{card.number}").status_code == 401


def test_a_token_without_the_scope_is_403_and_the_scope_opens_nothing_else():
    card = CardFactory()
    operator = persona(Account.Role.ANS_OPERATOR)
    response = bearer(operator, scope="api:read").get(f"{URL}{card.number}")
    assert response.status_code == 403 and "card-status" in response.json()["message"]
    assert bearer(operator).get("/api/v1/cards/").status_code == 403


def test_the_scope_is_asked_for_never_given_by_default_and_not_to_a_holder():
    manager = persona(Account.Role.STRUCTURE_MANAGER)
    client_id, secret = integrator_credentials(manager)
    assert client_credentials_token(client_id, secret)["scope"] == "api:read api:write"
    holder = persona(Account.Role.HOLDER)
    client_id, secret = integrator_credentials(holder)
    request = RequestFactory().post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "card-status"},
        HTTP_AUTHORIZATION=basic(client_id, secret),
    )
    match = resolve("/o/token/")
    response = match.func(request, *match.args, **match.kwargs)
    assert response.status_code in (400, 401) and b"invalid_scope" in response.content


def test_it_is_rate_limited_like_the_other_apis(relying_party, settings):
    limits = copy.deepcopy(django_settings.CPX_RATE_LIMITS)
    limits["card-status"]["rate"] = "2/m"
    settings.CPX_RATE_LIMITS = limits
    card = CardFactory()
    answers = [relying_party.get(f"{URL}{card.number}").status_code for _ in range(3)]
    assert answers == [200, 200, 429]


def test_the_schema_documents_both_operations_and_their_scope(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    one = schema["paths"]["/api/v1/card-status/{number}"]["get"]
    many = schema["paths"]["/api/v1/card-status/"]["get"]
    assert one["operationId"] == "card_status_show" and many["operationId"] == "card_status_list"
    assert one["security"] == [{"oauth2": ["card-status"]}]
    assert {"401", "403", "404", "429"} <= set(one["responses"])
    assert [p["name"] for p in many["parameters"]] == ["holder"]
