"""The REST API of orders, payments and persons: answers, error bodies, and bad input on every endpoint."""

import datetime

import pytest
from django.utils import timezone
from django_fsm import ConcurrentTransition
from rest_framework.test import APIClient

from cards.models import Card
from core.transitions import allowed
from orders.errors import NotPermitted
from orders.models import Order, OrderEvent, Payment
from orders.services import order_create
from tests.factories import CardFactory, ExerciseFactory, ProfessionalFactory, persona

from .helpers import doctor_order
from .test_payment_invoice import pdf_text

pytestmark = pytest.mark.django_db
HUGE = 2**70


def client_for(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def doctor():
    return ExerciseFactory()


@pytest.fixture
def holder(doctor):
    return persona("holder", professional=doctor.professional)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["message"]
    return body


# --- authentication and persons -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/v1/orders/", "/api/v1/persons/", "/api/v1/payments/", "/api/v1/orders/1/"]
)
def test_anonymous_requests_are_told_to_authenticate(url):
    assert_error(client_for().get(url), 401, "not_authenticated")


def test_persons_search_by_identifier_and_name(cnom):
    doctor = ExerciseFactory().professional
    ExerciseFactory()
    api = client_for(cnom)
    found = api.get("/api/v1/persons/", {"identifier": doctor.rpps}).json()["results"]
    assert [p["id"] for p in found] == [doctor.pk]
    assert found[0]["exercises"][0]["authority"] == "CNOM"
    by_name = api.get("/api/v1/persons/", {"name": doctor.last_name.lower()}).json()["results"]
    assert doctor.pk in [p["id"] for p in by_name]


def test_persons_outside_ones_scope_are_not_found(holder):
    other = ProfessionalFactory()
    api = client_for(holder)
    assert_error(api.get(f"/api/v1/persons/{other.pk}/"), 404, "not_found")
    assert api.get(f"/api/v1/persons/{holder.account.professional_id}/").status_code == 200


@pytest.mark.parametrize("pk", ["0", "-1", "abc", str(HUGE)])
def test_persons_unknown_ids_are_not_found(cnom, pk):
    assert_error(client_for(cnom).get(f"/api/v1/persons/{pk}/"), 404, "not_found")


def test_persons_search_rejects_bad_input(cnom):
    body = assert_error(client_for(cnom).get("/api/v1/persons/", {"name": "a\x00b"}), 400, "invalid")
    assert "name" in body["fields"]


# --- creating orders ----------------------------------------------------------------------------------


def test_a_holder_creates_a_draft(holder, doctor):
    response = client_for(holder).post(
        "/api/v1/orders/",
        {"professional": doctor.professional_id, "exercise": doctor.pk, "card_type": "CPS", "kind": "first"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["state"], body["authority"]) == ("draft", "CNOM")
    assert body["your_transitions"] == ["cancel", "submit"]
    assert [e["transition"] for e in body["events"]] == ["create"]


@pytest.mark.parametrize("professional", [HUGE, 10**6, 0, -3])
def test_order_creation_for_an_unknown_person_answers_404(holder, professional):
    payload = {"professional": professional, "card_type": "CPS", "kind": "first"}
    body = assert_error(client_for(holder).post("/api/v1/orders/", payload, format="json"), 404, "not_found")
    assert "professional" in body["fields"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "professional"),
        ({"professional": "abc", "card_type": "CPS", "kind": "first"}, "professional"),
        ({"professional": True, "card_type": "CPS", "kind": "first"}, "professional"),
        ({"professional": [1], "card_type": "CPS", "kind": "first"}, "professional"),
        ("SELF", "card_type"),
        ({"professional": "SELF", "card_type": "CPS", "kind": "bogus"}, "kind"),
        ({"professional": "SELF", "card_type": "CPS", "kind": "first"}, "exercise"),
        (
            {"professional": "SELF", "card_type": "CPS", "kind": "replacement", "exercise": "EX"},
            "replacement_reason",
        ),
    ],
)
def test_order_creation_rejects_bad_input(holder, doctor, payload, field):
    if payload == "SELF":
        payload = {"professional": doctor.professional_id, "card_type": 7, "kind": "first"}
    payload = {
        k: (doctor.professional_id if v == "SELF" else doctor.pk if v == "EX" else v)
        for k, v in payload.items()
    }
    body = assert_error(client_for(holder).post("/api/v1/orders/", payload, format="json"), 400, "invalid")
    assert field in body["fields"], body


def test_order_creation_rejects_a_non_object_body(holder):
    assert_error(client_for(holder).post("/api/v1/orders/", [1, 2], format="json"), 400, "invalid")
    response = client_for(holder).post("/api/v1/orders/", "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_a_replacement_for_someone_elses_card_is_refused(holder, doctor, cnom):
    stranger_card = CardFactory(state=Card.State.OPPOSED)
    payload = {
        "professional": doctor.professional_id,
        "exercise": doctor.pk,
        "card_type": "CPS",
        "kind": "replacement",
        "replacement_reason": "lost",
        "replaces": stranger_card.pk,
    }
    body = assert_error(client_for(holder).post("/api/v1/orders/", payload, format="json"), 404, "not_found")
    assert "replaces" in body["fields"]  # the holder cannot even see that card
    system = persona("system")  # sees every card: the service refuses it all the same
    body = assert_error(client_for(system).post("/api/v1/orders/", payload, format="json"), 400, "invalid")
    assert "replaces" in body["fields"]


def test_roles_that_do_not_order_cards_are_forbidden(doctor, cnom):
    payload = {
        "professional": doctor.professional_id,
        "exercise": doctor.pk,
        "card_type": "CPS",
        "kind": "first",
    }
    assert_error(
        client_for(persona("auditor")).post("/api/v1/orders/", payload, format="json"), 403, "not_permitted"
    )


def test_an_operator_orders_on_a_holders_behalf_only_within_its_authority(doctor, cnom):
    """The Ordre's operator places a holder's order (a draft created by them); another Ordre's operator
    cannot order for a person of the CNOM, even one it could see through another exercise."""
    payload = {
        "professional": doctor.professional_id,
        "exercise": doctor.pk,
        "card_type": "CPS",
        "kind": "first",
    }
    response = client_for(cnom).post("/api/v1/orders/", payload, format="json")
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.created_by == cnom and order.authority.code == "CNOM"
    ExerciseFactory(professional=doctor.professional, profession_id="60")  # also a nurse: ONI sees them
    nurse_operator = persona("authority_operator", authority="ONI")

    with pytest.raises(NotPermitted):
        order_create(
            actor=nurse_operator,
            professional=doctor.professional,
            exercise=doctor,
            card_type="CPS",
            kind="first",
        )


# --- listing and reading --------------------------------------------------------------------------------


def test_list_filters(cnom):
    submitted = doctor_order("submitted")
    queued = doctor_order("queued", kind="first", replacement_reason="", replaces=None)
    doctor_order("submitted", exercise=ExerciseFactory(), kind="first", replacement_reason="", replaces=None)
    api = client_for(cnom)

    def ids(**params):
        response = api.get("/api/v1/orders/", params)
        assert response.status_code == 200, response.content
        return {o["id"] for o in response.json()["results"]}

    assert queued.pk in ids(state="queued") and submitted.pk not in ids(state="queued")
    assert ids(kind="replacement") == {submitted.pk}
    assert submitted.pk in ids(card_type="CPS", authority="CNOM")
    assert ids(card_type="CPE") == set()
    assert ids(authority="ONI") == set() and ids(authority="NOPE") == set()
    reasons = {o["id"]: o["replacement_reason"] for o in api.get("/api/v1/orders/").json()["results"]}
    assert reasons[submitted.pk] == "lost" and reasons[queued.pk] is None  # no reason: null, not ""


def test_overdue_orders_are_listed_for_operators(cnom):
    old = doctor_order("submitted")
    Order.objects.filter(pk=old.pk).update(state_changed_at=timezone.now() - datetime.timedelta(days=40))
    fresh = doctor_order("submitted")
    done = doctor_order("produced")
    Order.objects.filter(pk=done.pk).update(state_changed_at=timezone.now() - datetime.timedelta(days=40))
    api = client_for(cnom)
    assert [o["id"] for o in api.get("/api/v1/orders/", {"overdue": "true"}).json()["results"]] == [old.pk]
    not_overdue = {o["id"] for o in api.get("/api/v1/orders/", {"overdue": "false"}).json()["results"]}
    assert not_overdue == {fresh.pk, done.pk}


@pytest.mark.parametrize(
    "params",
    [
        {"state": "nope"},
        {"kind": 3},
        {"card_type": "XYZ"},
        {"limit": "0"},
        {"offset": "-1"},
        {"limit": "abc"},
        {"overdue": "maybe"},
        {"professional": "x"},
    ],
)
def test_list_rejects_bad_filters(cnom, params):
    assert_error(client_for(cnom).get("/api/v1/orders/", params), 400, "invalid")


def test_detail_has_the_event_history_and_is_scoped(cnom):
    order = doctor_order("draft")
    OrderEvent.objects.create(order=order, transition="create", to_state="draft")
    body = client_for(cnom).get(f"/api/v1/orders/{order.pk}/").json()
    assert body["events"][0]["transition"] == "create"
    oni = persona("authority_operator", authority="ONI")
    assert_error(client_for(oni).get(f"/api/v1/orders/{order.pk}/"), 404, "not_found")


@pytest.mark.parametrize("pk", ["0", "-4", "x", "0.5", str(HUGE), "999999"])
def test_unknown_order_ids_are_not_found_on_every_endpoint(cnom, pk):
    api = client_for(cnom)
    assert_error(api.get(f"/api/v1/orders/{pk}/"), 404, "not_found")
    assert_error(api.get(f"/api/v1/orders/{pk}/invoice/"), 404, "not_found")
    assert_error(api.get(f"/api/v1/payments/{pk}/"), 404, "not_found")
    for name in [
        "submit",
        "approve",
        "reject",
        "cancel",
        "queue",
        "record_payment",
        "start_production",
        "mark_produced",
        "mark_failed",
        "requeue",
    ]:
        assert_error(api.post(f"/api/v1/orders/{pk}/{name}/", {}, format="json"), 404, "not_found")


# --- transitions ----------------------------------------------------------------------------------------


def test_a_transition_from_the_wrong_state_answers_409_with_the_allowed_ones(cnom):
    order = doctor_order("queued", kind="first", replacement_reason="", replaces=None)
    body = assert_error(
        client_for(cnom).post(f"/api/v1/orders/{order.pk}/approve/"), 409, "invalid_transition"
    )
    assert body["state"] == "queued"
    assert body["allowed_transitions"] == ["cancel", "start_production"]


def test_a_visible_order_answers_403_to_a_role_that_may_not_act(cnom):
    order = doctor_order("submitted")
    auditor = persona("auditor")
    assert_error(client_for(auditor).post(f"/api/v1/orders/{order.pk}/approve/"), 403, "not_permitted")
    holder = persona("holder", professional=order.professional)
    assert_error(client_for(holder).post(f"/api/v1/orders/{order.pk}/approve/"), 403, "not_permitted")


def test_another_ordres_operator_gets_404(cnom):
    order = doctor_order("submitted")
    oni = persona("authority_operator", authority="ONI")
    assert_error(client_for(oni).post(f"/api/v1/orders/{order.pk}/approve/"), 404, "not_found")


def test_approval_and_rejection_through_the_api(cnom, django_capture_on_commit_callbacks, production_calls):
    order = doctor_order("submitted", kind="first", replacement_reason="", replaces=None)
    with django_capture_on_commit_callbacks(execute=True):
        body = (
            client_for(cnom)
            .post(f"/api/v1/orders/{order.pk}/approve/", {"reason": "ok"}, format="json")
            .json()
        )
    assert body["state"] == "queued"
    assert production_calls == [order.pk]
    other = doctor_order("submitted")
    body = assert_error(
        client_for(cnom).post(f"/api/v1/orders/{other.pk}/reject/", {}, format="json"), 400, "invalid"
    )
    assert "reason" in body["fields"]
    response = client_for(cnom).post(
        f"/api/v1/orders/{other.pk}/reject/", {"reason": "pièce manquante"}, format="json"
    )
    assert response.json()["state"] == "rejected"
    assert response.json()["events"][-1]["reason"] == "pièce manquante"


def test_an_ineligible_order_answers_422_with_its_reasons(cnom):
    order = doctor_order("submitted", kind="first", replacement_reason="", replaces=None)
    CardFactory(exercise=order.exercise)
    order.professional.is_active = False
    order.professional.save()
    body = assert_error(client_for(cnom).post(f"/api/v1/orders/{order.pk}/approve/"), 422, "not_eligible")
    assert {r["code"] for r in body["reasons"]} == {"holder_inactive", "live_card_exists"}


def test_transition_bodies_are_validated(cnom):
    system = persona("system")
    order = doctor_order("in_production")
    api = client_for(system)
    body = assert_error(
        api.post(f"/api/v1/orders/{order.pk}/mark_produced/", {"card": "x"}, format="json"), 400, "invalid"
    )
    assert "card" in body["fields"]
    assert_error(
        api.post(f"/api/v1/orders/{order.pk}/mark_produced/", {"card": HUGE}, format="json"), 404, "not_found"
    )
    assert_error(api.post(f"/api/v1/orders/{order.pk}/mark_failed/", {}, format="json"), 400, "invalid")
    assert_error(api.post(f"/api/v1/orders/{order.pk}/mark_failed/", [1], format="json"), 400, "invalid")
    stranger_card = CardFactory(state=Card.State.PERSONALIZED)
    response = api.post(
        f"/api/v1/orders/{order.pk}/mark_produced/", {"card": stranger_card.pk}, format="json"
    )
    assert "card" in assert_error(response, 400, "invalid")["fields"]


# --- payments and invoices ------------------------------------------------------------------------------


def test_payment_invoice_and_listing(cnom):
    order = doctor_order("awaiting_payment")
    api = client_for(cnom)
    url = f"/api/v1/orders/{order.pk}/record_payment/"
    assert_error(
        api.post(url, {"amount": "10.00", "method": "cheque", "reference": "C1"}, format="json"),
        400,
        "payment_refused",
    )
    assert_error(
        api.post(url, {"amount": "abc", "method": "cash", "reference": ""}, format="json"), 400, "invalid"
    )
    assert_error(api.get(f"/api/v1/orders/{order.pk}/invoice/"), 404, "not_found")
    response = api.post(url, {"amount": "36.00", "method": "cheque", "reference": "CHQ-1"}, format="json")
    assert response.status_code == 201, response.content
    payment = response.json()
    assert client_for(cnom).get(f"/api/v1/orders/{order.pk}/").json()["state"] == "queued"
    assert_error(
        api.post(url, {"amount": "36.00", "method": "cheque", "reference": "C2"}, format="json"),
        409,
        "invalid_transition",
    )
    pdf = api.get(f"/api/v1/orders/{order.pk}/invoice/", HTTP_ACCEPT="application/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and "36,00 €" in pdf_text(pdf.content).replace("\u00a0", " ")
    assert [p["id"] for p in api.get("/api/v1/payments/").json()["results"]] == [payment["id"]]
    assert api.get(f"/api/v1/payments/{payment['id']}/").json()["reference"] == "CHQ-1"
    oni = client_for(persona("authority_operator", authority="ONI"))
    assert oni.get("/api/v1/payments/").json()["results"] == []
    assert_error(oni.get(f"/api/v1/payments/{payment['id']}/"), 404, "not_found")
    assert_error(
        oni.get(f"/api/v1/orders/{order.pk}/invoice/", HTTP_ACCEPT="application/pdf"), 404, "not_found"
    )


def test_the_schema_generates(cnom):
    response = client_for(cnom).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/orders/{pk}/approve/" in paths or "/api/v1/orders/{id}/approve/" in paths


# --- the rules' one home, answered by the API -------------------------------------------------------------


def test_an_operator_may_not_record_an_online_payment(cnom):
    order = doctor_order("awaiting_payment")
    url = f"/api/v1/orders/{order.pk}/record_payment/"
    payload = {"amount": "36.00", "method": "card_online", "reference": "chk_1"}
    body = assert_error(client_for(cnom).post(url, payload, format="json"), 400, "invalid")
    assert "method" in body["fields"]
    order.refresh_from_db()
    assert order.state == "awaiting_payment" and not Payment.objects.exists()


def test_a_rejection_reason_too_short_is_refused(cnom):
    order = doctor_order("submitted")
    url = f"/api/v1/orders/{order.pk}/reject/"
    body = assert_error(client_for(cnom).post(url, {"reason": " non "}, format="json"), 400, "invalid")
    assert "reason" in body["fields"]
    assert Order.objects.get(pk=order.pk).state == "submitted"


def test_an_order_is_placed_in_one_call(holder, doctor):
    payload = {
        "professional": doctor.professional_id,
        "exercise": doctor.pk,
        "card_type": "CPS",
        "kind": "first",
        "submit": True,
    }
    response = client_for(holder).post("/api/v1/orders/", payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "submitted"
    assert [e["transition"] for e in body["events"]] == ["create", "submit"]


def test_an_order_refused_at_placing_answers_422_and_leaves_no_draft(holder, doctor):
    CardFactory(exercise=doctor)  # a live card already: no first order
    payload = {
        "professional": doctor.professional_id,
        "exercise": doctor.pk,
        "card_type": "CPS",
        "kind": "first",
        "submit": True,
    }
    response = client_for(holder).post("/api/v1/orders/", payload, format="json")
    body = assert_error(response, 422, "not_eligible")
    assert [r["code"] for r in body["reasons"]] == ["live_card_exists"]
    assert not Order.objects.exists()


def test_your_transitions_are_what_you_may_fire(cnom, holder):
    order = doctor_order("awaiting_payment")
    mine = client_for(cnom).get(f"/api/v1/orders/{order.pk}/").json()
    assert mine["allowed_transitions"] == allowed(order) == ["cancel", "record_payment"]
    assert mine["your_transitions"] == allowed(order, cnom) == ["cancel", "record_payment"]
    auditor = persona("auditor")
    assert client_for(auditor).get(f"/api/v1/orders/{order.pk}/").json()["your_transitions"] == []


def test_a_concurrent_change_answers_409_with_the_current_state(cnom, monkeypatch):
    order = doctor_order("submitted", kind="first", replacement_reason="", replaces=None)

    def lost_the_race(self, *args, **kwargs):
        raise ConcurrentTransition("changed meanwhile")

    monkeypatch.setattr(Order, "save", lost_the_race)
    body = assert_error(client_for(cnom).post(f"/api/v1/orders/{order.pk}/approve/"), 409, "conflict")
    assert (body["state"], body["allowed_transitions"]) == ("submitted", ["approve", "cancel", "reject"])


def test_a_rerouted_order_answers_409_with_its_state(cnom):
    person = ProfessionalFactory(rpps=None, adeli="016041030", national_id="0016041030", id_type="0")
    order = doctor_order(
        "submitted",
        exercise=ExerciseFactory(professional=person),
        professional=person,
        kind="first",
        replacement_reason="",
        replaces=None,
    )
    assert order.authority.code == "ANS"
    person.rpps = "10107518424"
    person.save()
    ans = persona("ans_operator")
    body = assert_error(client_for(ans).post(f"/api/v1/orders/{order.pk}/approve/"), 409, "rerouted")
    assert (body["state"], body["allowed_transitions"]) == ("submitted", ["approve", "cancel", "reject"])
