"""The lifecycle API: each endpoint's answers, errors as {code, message}, scoping (invisible → 404)."""

import pytest
from freezegun import freeze_time
from rest_framework.test import APIClient

from cards.models import Card
from lifecycle.activation import card_authority
from lifecycle.models import Opposition, RenewalReminder
from lifecycle.renewal import renewal_link_token
from orders.models import Order
from registry.models import Account
from tests.factories import ActivityFactory, CardFactory, persona

from .conftest import card_of_an_order
from .test_renewal import EXPIRY, before, renewal_left_to_holders, run_on

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["message"], body
    return body


# --- opposition ------------------------------------------------------------------------------------------


def test_a_holder_declares_their_card_lost(card, holder_of, hierarchy):
    response = client_for(holder_of(card)).post(
        f"/api/v1/cards/{card.pk}/opposition/", {"reason": "lost"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["card"], body["reason"], body["channel"], body["card_state"]) == (
        card.pk,
        "lost",
        "online",
        "opposed",
    )
    assert Order.objects.get(pk=body["replacement_order_id"]).fee is not None


def test_a_second_declaration_answers_409(card, holder_of, hierarchy):
    client = client_for(holder_of(card))
    client.post(f"/api/v1/cards/{card.pk}/opposition/", {"reason": "stolen"}, format="json")
    assert_error(
        client.post(f"/api/v1/cards/{card.pk}/opposition/", {"reason": "lost"}, format="json"),
        409,
        "already_opposed",
    )
    assert Opposition.objects.get().reason == "stolen"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"reason": "forgotten"},
        {"reason": "lost", "channel": "pigeon"},
        {"reason": ["lost"]},
        {"reason": None},
    ],
)
def test_bad_opposition_input_is_400(card, holder_of, payload):
    body = assert_error(
        client_for(holder_of(card)).post(f"/api/v1/cards/{card.pk}/opposition/", payload, format="json"),
        400,
        "invalid",
    )
    assert body["fields"]
    assert Card.objects.get(pk=card.pk).state == Card.State.ACTIVE


def test_opposition_body_must_be_json_object(card, holder_of):
    client = client_for(holder_of(card))
    assert_error(client.post(f"/api/v1/cards/{card.pk}/opposition/", [1, 2], format="json"), 400, "invalid")
    response = client.post(
        f"/api/v1/cards/{card.pk}/opposition/", "{not json", content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def test_invisible_or_unknown_cards_are_404(card):
    stranger = client_for(persona(Account.Role.HOLDER))
    for card_id in (card.pk, 10**9, 2**63):
        assert_error(
            stranger.post(f"/api/v1/cards/{card_id}/opposition/", {"reason": "lost"}, format="json"),
            404,
            "not_found",
        )
        for path, body in (
            ("activation/", {}),
            ("activation/", {"confirm_receipt": True}),
            ("activation/challenge/", None),
        ):
            assert_error(
                stranger.post(f"/api/v1/cards/{card_id}/{path}", body, format="json"), 404, "not_found"
            )


def test_anonymous_is_401(card):
    assert_error(
        client_for(None).post(f"/api/v1/cards/{card.pk}/opposition/", {"reason": "lost"}),
        401,
        "not_authenticated",
    )


def test_role_and_channel_rules_are_403(card, cnom, hierarchy):
    response = client_for(cnom).post(
        f"/api/v1/cards/{card.pk}/opposition/", {"reason": "lost"}, format="json"
    )
    assert_error(response, 403, "not_permitted")
    response = client_for(cnom).post(
        f"/api/v1/cards/{card.pk}/opposition/", {"reason": "lost", "channel": "phone"}, format="json"
    )
    assert response.status_code == 201


# --- activation ------------------------------------------------------------------------------------------


@pytest.fixture
def shipped(tariff):
    return card_of_an_order(state=Card.State.SHIPPED)


def allow_receipt_confirmation(card: Card) -> None:
    authority = card_authority(card)
    authority.allow_receipt_confirmation = True
    authority.save(update_fields=["allow_receipt_confirmation"])


def test_the_holder_confirms_receipt_only_where_the_authority_allows_it(shipped, holder_of):
    client = client_for(holder_of(shipped))
    refused = client.post(f"/api/v1/cards/{shipped.pk}/activation/", {"confirm_receipt": True}, format="json")
    assert_error(refused, 403, "receipt_confirmation_not_allowed")
    assert Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED
    allow_receipt_confirmation(shipped)
    response = client.post(
        f"/api/v1/cards/{shipped.pk}/activation/", {"confirm_receipt": True}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "active"
    again = client.post(f"/api/v1/cards/{shipped.pk}/activation/", {"confirm_receipt": True}, format="json")
    assert_error(again, 409, "invalid_state")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"confirm_receipt": False},
        {"pin": "1234"},
        {"puk": "12345678"},
        {"challenge": "cpx-card-activation|1|x"},
        {"signature": "AAAA"},
        {"confirm_receipt": True, "challenge": "cpx-card-activation|1|x", "signature": "AAAA"},
        {"challenge": ["x"], "signature": "AAAA"},
        {"confirm_receipt": "maybe"},
    ],
)
def test_an_activation_body_is_a_proof_or_a_confirmation_else_400(shipped, holder_of, body):
    allow_receipt_confirmation(shipped)
    response = client_for(holder_of(shipped)).post(
        f"/api/v1/cards/{shipped.pk}/activation/", body, format="json"
    )
    assert_error(response, 400, "invalid")
    assert Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED


def test_the_challenge_names_the_card_and_the_command_to_run(shipped, holder_of, certified):
    certified(shipped)
    response = client_for(holder_of(shipped)).post(f"/api/v1/cards/{shipped.pk}/activation/challenge/")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"challenge", "expires_at", "command"}
    prefix, number, nonce = body["challenge"].split("|")
    assert (prefix, number) == ("cpx-card-activation", shipped.number) and len(nonce) >= 32
    assert body["command"] == f"cpx-card sign --card {shipped.number} '{body['challenge']}'"


def test_a_challenge_is_for_a_shipped_card_with_a_usable_certificate(card, shipped, holder_of, certified):
    assert_error(
        client_for(holder_of(shipped)).post(f"/api/v1/cards/{shipped.pk}/activation/challenge/"),
        409,
        "certificate_not_usable",
    )
    certified(card)
    assert_error(  # an active card has nothing left to prove
        client_for(holder_of(card)).post(f"/api/v1/cards/{card.pk}/activation/challenge/"),
        409,
        "invalid_state",
    )


def test_operators_get_no_challenge(shipped, cnom, ans, certified):
    certified(shipped)
    path = f"/api/v1/cards/{shipped.pk}/activation/challenge/"
    assert_error(client_for(cnom).post(path), 403, "not_permitted")
    assert_error(client_for(ans).post(path), 404, "not_found")  # an Ordre's card: not ANS's to see


# --- renewal links ---------------------------------------------------------------------------------------


@pytest.fixture
def link(tariff):
    """The token of a reminder's link (the API takes it in a POST body, never in a URL)."""
    renewal_left_to_holders()
    CardFactory(exercise=ActivityFactory().exercise, valid_until=EXPIRY)
    run_on(before(90))
    with freeze_time(before(90)):
        token = renewal_link_token(RenewalReminder.objects.get())
    with freeze_time(before(80)):  # the holder clicks ten days later
        yield token


PREVIEW, CONFIRM = "/api/v1/renewal-links/preview/", "/api/v1/renewal-links/confirm/"


def test_the_link_shows_then_confirms_once_without_signing_in(link):
    anonymous = client_for(None)
    shown = anonymous.post(PREVIEW, {"token": link}, format="json")
    assert shown.status_code == 200 and shown.json()["used"] is False
    confirmed = anonymous.post(CONFIRM, {"token": link}, format="json")
    assert confirmed.status_code == 201, confirmed.content
    assert confirmed.json()["kind"] == "renewal" and confirmed.json()["state"] == "submitted"
    assert anonymous.post(PREVIEW, {"token": link}, format="json").json()["used"] is True
    assert_error(anonymous.post(CONFIRM, {"token": link}, format="json"), 409, "renewal_link_used")


def test_bad_and_expired_links(link, settings):
    anonymous = client_for(None)
    # A token the platform did not sign names no link: 404, like a reference to nothing.
    assert_error(anonymous.post(PREVIEW, {"token": "garbage"}, format="json"), 404, "renewal_link_invalid")
    assert_error(anonymous.post(CONFIRM, {"token": "a:b:c"}, format="json"), 404, "renewal_link_invalid")
    settings.CPX_RENEWAL_LINK_MAX_AGE_DAYS = 5  # the link was signed 10 days ago
    assert_error(anonymous.post(CONFIRM, {"token": link}, format="json"), 410, "renewal_link_expired")
    assert not Order.objects.filter(kind="renewal").exists()


# --- shipping batches ------------------------------------------------------------------------------------


def test_ans_records_and_lists_batches(tariff, ans):
    card = card_of_an_order(state=Card.State.PERSONALIZED)
    client = client_for(ans)
    payload = {
        "carrier": "La Poste",
        "reference": "B-1",
        "cards": [{"card": card.pk, "tracking_reference": "6A1"}],
    }
    created = client.post("/api/v1/shipping-batches/", payload, format="json")
    assert created.status_code == 201, created.content
    batch = created.json()
    assert batch["shipments"][0]["card"] == card.pk and batch["shipments"][0]["pin_release_on"]
    listed = client.get("/api/v1/shipping-batches/")
    assert listed.status_code == 200 and listed.json()["count"] == 1
    assert client.get(f"/api/v1/shipping-batches/{batch['id']}/").json()["reference"] == "B-1"
    assert_error(client.get("/api/v1/shipping-batches/999999/"), 404, "not_found")
    assert_error(
        client.post("/api/v1/shipping-batches/", payload, format="json"), 409, "batch_exists"
    )  # same reference


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"carrier": "La Poste", "reference": "B-2", "cards": []},
        {"carrier": "La Poste", "reference": "B-2", "cards": [{"card": "x", "tracking_reference": "1"}]},
        {"carrier": "", "reference": "B-2", "cards": [{"card": 1, "tracking_reference": "1"}]},
    ],
)
def test_bad_batches_are_400(ans, payload):
    assert_error(client_for(ans).post("/api/v1/shipping-batches/", payload, format="json"), 400, "invalid")


def test_an_unknown_card_in_a_batch_is_404_and_others_may_not_ship(ans, card, holder_of):
    payload = {
        "carrier": "La Poste",
        "reference": "B-3",
        "cards": [{"card": 10**9, "tracking_reference": "1"}],
    }
    assert_error(client_for(ans).post("/api/v1/shipping-batches/", payload, format="json"), 404, "not_found")
    assert_error(client_for(holder_of(card)).get("/api/v1/shipping-batches/"), 403, "not_permitted")
    assert_error(client_for(ans).get("/api/v1/shipping-batches/?limit=x"), 400, "invalid")


def test_the_schema_declares_the_lifecycle_endpoints(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    opposition = paths["/api/v1/cards/{card_id}/opposition/"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "409"} <= set(opposition)
    assert {"200", "400", "404", "410"} <= set(paths["/api/v1/renewal-links/preview/"]["post"]["responses"])
    assert "/api/v1/shipping-batches/{batch_id}/" in paths


# --- automatic renewal -----------------------------------------------------------------------------------


def test_an_ordre_turns_auto_renewal_on_and_off(cnom):
    client = client_for(cnom)
    on = client.put("/api/v1/auto-renewal-policies/10/", {"enabled": True}, format="json")
    assert on.status_code == 200, on.content
    assert on.json()["authority"] == "CNOM" and on.json()["enabled"] is True
    client.put("/api/v1/auto-renewal-policies/10/", {"enabled": False}, format="json")
    assert client.get("/api/v1/auto-renewal-policies/").json() == [{**on.json(), "enabled": False}]


def test_auto_renewal_bad_input_and_roles(cnom, ans):
    client = client_for(cnom)
    url = "/api/v1/auto-renewal-policies/10/"
    assert_error(client.put(url, {}, format="json"), 400, "invalid")
    assert_error(client.put(url, {"enabled": "perhaps"}, format="json"), 400, "invalid")
    # A profession the Ordre does not register (or no profession at all) is a path to nothing: 404.
    for other in ("60", "zz", "12345"):
        path = f"/api/v1/auto-renewal-policies/{other}/"
        assert_error(client.put(path, {"enabled": True}, format="json"), 404, "not_found")
    assert_error(client_for(ans).put(url, {"enabled": True}, format="json"), 403, "not_permitted")
    assert_error(client_for(ans).get("/api/v1/auto-renewal-policies/"), 403, "not_permitted")
