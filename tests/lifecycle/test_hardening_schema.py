"""A schema that tells the truth, for the APIs of lifecycle, approvals, registry, stations and messages: what
the server enforces is declared (ids as integers, bounds, non-blank text, non-empty lists), what the schema
declares is enforced (strict booleans, bounded limit/offset), and every 404 says "No such <object>."."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from approvals import services as approvals
from registry.models import Account
from tests.factories import persona

from .conftest import card_of_an_order

pytestmark = pytest.mark.django_db

# At least one visible character, no NUL: what the server checks, as the schema writes it.
VISIBLE = r"^[^\u0000]*[^\u0000\s][^\u0000]*$"


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker) -> dict[str, Any]:
    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/", {"format": "json"}).json()


def operation(schema: dict, path: str, method: str) -> dict:
    return schema["paths"][path][method]


def parameter(schema: dict, path: str, method: str, name: str) -> dict:
    found = [p for p in operation(schema, path, method).get("parameters", []) if p["name"] == name]
    assert found, f"{method.upper()} {path} declares no parameter {name}"
    return found[0]["schema"]


def body_schema(schema: dict, path: str, method: str) -> dict:
    ref = operation(schema, path, method)["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def client_for(user: Any) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_authenticate(user)
    return client


# --- ids typed as integers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/persons/{id}/", "get"),
        ("/api/v1/approvals/{id}/", "get"),
        ("/api/v1/approvals/{id}/approve/", "post"),
        ("/api/v1/approvals/{id}/reject/", "post"),
        ("/api/v1/registry/imports/{id}/", "get"),
        ("/api/v1/messages/{id}/", "get"),
    ],
)
def test_path_ids_are_integers(schema, path, method):
    assert parameter(schema, path, method, "id")["type"] == "integer"


def test_a_person_id_that_is_not_a_number_or_too_large_is_a_json_404(db):
    ans = client_for(persona(Account.Role.ANS_OPERATOR))
    for path in ("/api/v1/persons/abc/", f"/api/v1/persons/{2**63}/", "/api/v1/approvals/x/"):
        response = ans.get(path)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", path


# --- bounds on the parameters a view reads itself -------------------------------------------------------


def test_the_shipping_batch_list_declares_the_bounds_it_enforces(schema, db):
    limit = parameter(schema, "/api/v1/shipping-batches/", "get", "limit")
    offset = parameter(schema, "/api/v1/shipping-batches/", "get", "offset")
    assert (limit["minimum"], limit["maximum"], offset["minimum"]) == (1, 500, 0)
    ans = client_for(persona(Account.Role.ANS_OPERATOR))
    for query in (f"limit={limit['maximum'] + 1}", "limit=0", "offset=-1", f"offset={offset['maximum'] + 1}"):
        assert ans.get(f"/api/v1/shipping-batches/?{query}").status_code == 400, query
    assert ans.get(f"/api/v1/shipping-batches/?limit={limit['maximum']}").status_code == 200


def test_a_station_name_is_declared_as_what_the_server_looks_up(schema):
    assert parameter(schema, "/api/v1/stations/{name}/", "get", "name")["pattern"] == "^[-a-zA-Z0-9_]{1,40}$"


def test_the_auto_renewal_profession_is_declared_and_an_unknown_one_is_404(schema, db):
    put = operation(schema, "/api/v1/auto-renewal-policies/{profession}/", "put")
    assert "404" in put["responses"]
    assert parameter(schema, "/api/v1/auto-renewal-policies/{profession}/", "put", "profession")["pattern"]
    cnom = client_for(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    response = cnom.put("/api/v1/auto-renewal-policies/21/", {"enabled": True}, format="json")  # CNOP's
    assert response.status_code == 404 and response.json()["message"] == "No such profession."


# --- server-side constraints declared -------------------------------------------------------------------


def test_a_shipping_batch_is_declared_non_empty_with_visible_text(schema, db):
    batch = body_schema(schema, "/api/v1/shipping-batches/", "post")["properties"]
    assert batch["cards"]["minItems"] == 1
    assert batch["carrier"]["pattern"] == batch["reference"]["pattern"] == VISIBLE
    ans = client_for(persona(Account.Role.ANS_OPERATOR))
    for carrier in ("   ", "La\x00Poste"):
        body = {"carrier": carrier, "reference": "B-1", "cards": [{"card": 1, "tracking_reference": "1"}]}
        response = ans.post("/api/v1/shipping-batches/", body, format="json")
        assert response.status_code == 400 and "carrier" in response.json()["fields"], carrier


def test_a_rejection_needs_a_reason_and_says_so(schema, tariff):
    comment = body_schema(schema, "/api/v1/approvals/{id}/reject/", "post")["properties"]["comment"]
    assert comment["minLength"] == 1 and comment["pattern"] == VISIBLE
    card = card_of_an_order()
    holder = persona(Account.Role.HOLDER, professional=card.professional)
    asked = approvals.request(action="codes.reissue", actor=holder, payload={"card": card.pk}, summary="t")
    cnom = client_for(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    for blank in ("", "   "):
        response = cnom.post(f"/api/v1/approvals/{asked.pk}/reject/", {"comment": blank}, format="json")
        assert response.status_code == 400 and "comment" in response.json()["fields"]


def test_the_unblock_identity_check_declares_its_minimum(schema):
    check = body_schema(schema, "/api/v1/cards/{card_id}/unblock-requests/", "post")["properties"]
    assert check["identity_check"]["minLength"] == 10


def test_a_duplicate_batch_reference_is_a_conflict(schema, tariff):
    from cards.models import Card

    assert "409" in operation(schema, "/api/v1/shipping-batches/", "post")["responses"]
    ans = client_for(persona(Account.Role.ANS_OPERATOR))
    first, second = (card_of_an_order(state=Card.State.PERSONALIZED) for _ in range(2))
    batch = {
        "carrier": "La Poste",
        "reference": "B-1",
        "cards": [{"card": first.pk, "tracking_reference": "1"}],
    }
    assert ans.post("/api/v1/shipping-batches/", batch, format="json").status_code == 201
    batch["cards"] = [{"card": second.pk, "tracking_reference": "2"}]
    response = ans.post("/api/v1/shipping-batches/", batch, format="json")
    assert response.status_code == 409 and response.json()["code"] == "batch_exists"


# --- booleans are booleans ------------------------------------------------------------------------------


@pytest.mark.parametrize("loose", [0, 1, "true", "yes", "on", None])
def test_auto_renewal_takes_only_a_json_boolean(db, loose):
    cnom = client_for(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    response = cnom.put("/api/v1/auto-renewal-policies/10/", {"enabled": loose}, format="json")
    assert response.status_code == 400 and "enabled" in response.json()["fields"]


def test_receipt_confirmation_takes_only_a_json_boolean(tariff):
    from cards.models import Card

    card = card_of_an_order(state=Card.State.SHIPPED)
    holder = client_for(persona(Account.Role.HOLDER, professional=card.professional))
    response = holder.post(f"/api/v1/cards/{card.pk}/activation/", {"confirm_receipt": 1}, format="json")
    assert response.status_code == 400 and "confirm_receipt" in response.json()["fields"]


@pytest.mark.parametrize(
    ("path", "name"),
    [("/api/v1/messages/", "unread"), ("/api/v1/approvals/", "awaiting_me"), ("/api/v1/approvals/", "mine")],
)
def test_a_boolean_query_parameter_is_true_or_false(db, path, name):
    holder = client_for(persona(Account.Role.HOLDER))
    for loose in ("maybe", "1", "yes"):
        assert holder.get(path, {name: loose}).status_code == 400, (path, name, loose)
    for strict in ("true", "false", "True"):
        assert holder.get(path, {name: strict}).status_code == 200, (path, name, strict)


# --- 404 in one style ------------------------------------------------------------------------------------


def test_every_404_of_these_apis_says_no_such_object(db):
    ans = client_for(persona(Account.Role.ANS_OPERATOR))
    cases = {
        "/api/v1/unblock-requests/999999/": "No such unblock request.",
        "/api/v1/registry/imports/999999/": "No such registry import.",
        "/api/v1/shipping-batches/999999/": "No such shipping batch.",
        "/api/v1/approvals/999999/": "No such approval request.",
    }
    for path, message in cases.items():
        response = ans.get(path)
        assert (response.status_code, response.json()) == (404, {"code": "not_found", "message": message}), (
            path
        )
    for path in ("/api/v1/persons/999999/", "/api/v1/stations/nowhere/", "/api/v1/messages/999999/"):
        body = ans.get(path).json()
        assert body["code"] == "not_found" and body["message"].startswith("No such "), (path, body)
