"""No input makes a 5xx: JSON bounded in depth and size, text that cannot be stored or echoed refused with a
400 naming its field, bounded limit/offset on every list, strict booleans, one 404 style, JSON for every
error status under /api/ (issue 15, item 1)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from registry.models import Account
from stations.models import ReaderStation
from tests.api_auth import authorization
from tests.factories import CardFactory, OrderFactory, TariffFactory, persona

pytestmark = pytest.mark.django_db

JSON_WRITES = [
    ("post", "/api/v1/orders/"),
    ("post", "/api/v1/cards/{card}/opposition/"),
    ("post", "/api/v1/orders/{order}/record_payment/"),
    ("put", "/api/v1/auto-renewal-policies/10/"),
]


@pytest.fixture
def world(db):
    """A holder with a card and an order awaiting payment, an ANS operator, an Ordre operator."""
    TariffFactory()
    holder = persona(Account.Role.HOLDER)
    card = CardFactory(exercise__professional=holder.account.professional)
    order = OrderFactory(exercise=card.exercise, professional=card.professional, state="awaiting_payment")
    ReaderStation.objects.create(name="station-01")
    return {
        "holder": holder,
        "ans": persona(Account.Role.ANS_OPERATOR),
        "ordre": persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"),
        "card": card,
        "order": order,
    }


def api(user=None) -> Client:
    headers = {"Authorization": authorization(user)} if user else {}
    return Client(raise_request_exception=False, headers=headers)


def send(client: Client, method: str, url: str, body: str | bytes, **extra):
    return getattr(client, method)(url, body, content_type="application/json", **extra)


def assert_api_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


def actor_for(url: str, world: dict):
    operator = "record_payment" in url or "auto-renewal" in url
    return world["ordre"] if operator else world["holder"]


def url_of(url: str, world: dict) -> str:
    return url.format(card=world["card"].pk, order=world["order"].pk)


# --- JSON depth and size -------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), JSON_WRITES)
def test_deeply_nested_json_is_a_400_not_a_recursion_error(world, method, url):
    deep = "[" * 5000 + "]" * 5000
    response = send(api(actor_for(url, world)), method, url_of(url, world), deep)
    assert_api_error(response, 400, "parse_error")


def test_json_nested_past_the_limit_is_refused_even_when_python_could_parse_it(world, settings):
    settings.CPX_API_JSON_MAX_DEPTH = 5
    body = {"professional": 1, "card_type": "CPS", "kind": "first", "x": [[[[[1]]]]]}
    response = send(api(world["holder"]), "post", "/api/v1/orders/", json.dumps(body))
    assert "5" in assert_api_error(response, 400, "parse_error")["message"]


def test_a_json_body_over_the_parser_limit_is_a_json_413(world, settings):
    # Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE) is above: the parser's is what answers here.
    settings.CPX_API_JSON_MAX_BYTES = 1000
    body = json.dumps({"card_type": "CPS", "kind": "first", "padding": "x" * 2000})
    assert_api_error(send(api(world["holder"]), "post", "/api/v1/orders/", body), 413, "request_too_large")


def test_a_body_of_2_5_megabytes_is_a_json_413(world):
    body = json.dumps({"card_type": "CPS", "padding": "x" * 2_700_000})
    assert_api_error(send(api(world["holder"]), "post", "/api/v1/orders/", body), 413, "request_too_large")


# --- text that cannot be stored or echoed --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "field", "body"),
    [
        ("post", "/api/v1/orders/", "card_type", {"card_type": "\ud800", "kind": "first"}),
        ("post", "/api/v1/orders/", "kind", {"card_type": "CPS", "kind": "\ud800"}),
        ("post", "/api/v1/cards/{card}/opposition/", "reason", {"reason": "\ud800"}),
        ("post", "/api/v1/orders/{order}/record_payment/", "method", {"method": "\ud800", "reference": "x"}),
        ("post", "/api/v1/orders/", "card_type", {"card_type": "CPS\x00", "kind": "first"}),
        ("post", "/api/v1/cards/{card}/opposition/", "reason", {"reason": "lost\x00"}),
    ],
)
def test_unsafe_text_is_a_400_naming_its_field(world, method, url, field, body):
    response = send(api(actor_for(url, world)), method, url_of(url, world), json.dumps(body))
    assert field in assert_api_error(response, 400, "invalid")["fields"]


def test_unsafe_text_deep_in_a_body_or_in_a_key_is_named_by_its_path(world):
    body = {"cards": [{"ok": "fine"}, {"tracking": "\ud800"}], "bad\udc00key": 1}
    response = send(api(world["ans"]), "post", "/api/v1/shipping-batches/", json.dumps(body))
    assert set(assert_api_error(response, 400, "invalid")["fields"]) == {"cards.1.tracking", "bad\\udc00key"}


def test_surrogate_pairs_are_text_like_any_other(world):
    body = {"card_type": "\ud83d\ude00", "kind": "first"}  # an emoji: valid, only not a card type
    response = send(api(world["holder"]), "post", "/api/v1/orders/", json.dumps(body))
    assert "card_type" in assert_api_error(response, 400, "invalid")["fields"]


def test_nul_in_a_query_parameter_is_a_400_naming_it(world):
    response = api(world["ans"]).get("/api/v1/persons/?name=ab%00")
    assert list(assert_api_error(response, 400, "invalid")["fields"]) == ["name"]


# --- bounded limit/offset on every list ----------------------------------------------------------------

LISTS = [
    ("holder", "/api/v1/cards/"),
    ("holder", "/api/v1/messages/"),
    ("ans", "/api/v1/stations/"),
    ("holder", "/api/v1/orders/"),
    ("ans", "/api/v1/persons/"),
    ("ans", "/api/v1/shipping-batches/"),
    ("holder", "/api/v1/ecps/"),
    ("holder", "/api/v1/payments/"),
    ("ordre", "/api/v1/approvals/"),
]


@pytest.mark.parametrize(("who", "url"), LISTS)
@pytest.mark.parametrize(
    "query",
    [
        "limit=99999999999999999999",
        "limit=501",
        "limit=0",
        "offset=-1",
        "offset=99999999999999999999",
        "limit=1_0",
    ],
)
def test_a_list_refuses_limit_and_offset_out_of_bounds(world, who, url, query):
    response = api(world[who]).get(f"{url}?{query}")
    assert list(assert_api_error(response, 400, "invalid")["fields"]) == [query.split("=")[0]]


def test_the_card_list_pages_with_the_shared_bounds(world):
    body = api(world["holder"]).get("/api/v1/cards/?limit=500&offset=0").json()
    assert body["count"] == 1 and len(body["results"]) == 1


def test_the_schema_bounds_limit_and_offset_on_every_list(client):
    schema = client.get("/api/schema/?format=json").json()
    pages = [
        (path, parameter)
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] in ("limit", "offset") and parameter["in"] == "query"
    ]
    assert any(path == "/api/v1/cards/" for path, _ in pages)
    for path, parameter in pages:
        assert {"minimum", "maximum"} <= set(parameter["schema"]), (path, parameter)


def test_the_schema_states_the_input_rules(client):
    schema = client.get("/api/schema/?format=json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            queries = [p for p in operation.get("parameters", []) if p["in"] == "query"]
            if queries or operation.get("requestBody"):
                assert "400" in operation["responses"], (method, path)
    components = schema["components"]["schemas"]
    assert components["OptionalReasonRequest"]["properties"]["reason"]["pattern"] == r"^[^\u0000]*$"
    assert components["ShippingBatchInputRequest"]["properties"]["cards"]["minItems"] == 1


# --- strict booleans -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, "true", "yes", 1.0])
def test_a_boolean_must_be_a_json_boolean(world, value):
    response = send(
        api(world["ordre"]), "put", "/api/v1/auto-renewal-policies/10/", json.dumps({"enabled": value})
    )
    assert list(assert_api_error(response, 400, "invalid")["fields"]) == ["enabled"]


def test_a_json_boolean_is_accepted(world):
    response = send(
        api(world["ordre"]), "put", "/api/v1/auto-renewal-policies/10/", json.dumps({"enabled": True})
    )
    assert response.status_code == 200, response.content
    assert response.json()["enabled"] is True


def test_the_strict_boolean_fields_of_core():
    from rest_framework import serializers

    from core.api import BooleanField, QueryBooleanField

    class Body(serializers.Serializer):
        flag = BooleanField()

    class Query(serializers.Serializer):
        flag = QueryBooleanField()

    assert [Body(data={"flag": v}).is_valid() for v in (True, False, 0, 1, "true", None)] == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert [Query(data={"flag": v}).is_valid() for v in ("true", "False", "1", "yes", "")] == [
        True,
        True,
        False,
        False,
        False,
    ]


# --- one 404 style -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "url", "message"),
    [
        ("holder", "/api/v1/cards/999999/", "No such card."),
        ("holder", "/api/v1/orders/999999/", "No such order."),
        ("ans", "/api/v1/stations/nowhere/", "No such reader station."),
    ],
)
def test_every_404_says_no_such_object(world, who, url, message):
    response = api(world[who]).get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert assert_api_error(response, 404, "not_found")["message"] == message


def test_a_404_message_is_in_the_readers_language(world):
    response = api(world["holder"]).get("/api/v1/cards/999999/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "matches the given query" not in assert_api_error(response, 404, "not_found")["message"]


# --- JSON for every status under /api/ -----------------------------------------------------------------


def test_every_error_status_under_the_api_is_json(world, settings):
    holder = api(world["holder"])
    assert_api_error(api().get("/api/v1/cards/"), 401, "not_authenticated")
    assert_api_error(holder.get("/api/v1/stations/"), 403, "not_permitted")
    assert_api_error(holder.get("/api/v1/nowhere/"), 404, "not_found")
    assert_api_error(holder.delete("/api/v1/orders/"), 405, "method_not_allowed")
    assert_api_error(holder.get("/api/v1/cards/", HTTP_ACCEPT="application/xml"), 406, "not_acceptable")
    assert_api_error(holder.get("/api/v1/orders/", HTTP_ACCEPT="application/xml"), 406, "not_acceptable")
    response = holder.post("/api/v1/orders/", "card_type=CPS", content_type="text/plain")
    assert_api_error(response, 415, "unsupported_media_type")
    response = holder.post("/api/v1/orders/", {"card_type": "CPS"})  # multipart: not for a JSON endpoint
    assert_api_error(response, 415, "unsupported_media_type")


def test_a_host_not_allowed_is_a_json_400_under_the_api(world):
    response = api(world["holder"]).get("/api/v1/orders/", HTTP_HOST="evil.example")
    assert_api_error(response, 400, "bad_request")


def test_a_csrf_failure_under_the_api_is_json(world):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(world["holder"])
    assert_api_error(
        client.post("/api/v1/orders/", "{}", content_type="application/json"), 403, "not_permitted"
    )
    assert_api_error(client.post("/api/v1/", "{}", content_type="application/json"), 403, "not_permitted")
