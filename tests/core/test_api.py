"""The API answers every domain error the same way: its status, its code, its message, its own fields."""

from rest_framework.test import APIRequestFactory

from core.api import api_exception_handler
from core.errors import ConcurrentUpdate, DomainError, InvalidInput, InvalidTransition, NotFound


def answer(exc):
    request = APIRequestFactory().get("/api/v1/anything/")
    return api_exception_handler(exc, {"request": request, "kwargs": {}})


def test_a_domain_error_answers_with_its_status_and_body():
    response = answer(NotFound("No such order."))
    assert response.status_code == 404
    assert response.data == {"code": "not_found", "message": "No such order."}


def test_an_invalid_input_names_its_field():
    response = answer(InvalidInput("Say why.", field="reason"))
    assert response.status_code == 400
    assert response.data == {"code": "invalid", "message": "Say why.", "fields": {"reason": ["Say why."]}}


def test_an_invalid_transition_says_what_the_state_allows():
    response = answer(InvalidTransition(transition="approve", state="draft", allowed=["cancel", "submit"]))
    assert response.status_code == 409
    assert response.data["code"] == "invalid_transition"
    assert response.data["state"] == "draft" and response.data["allowed_transitions"] == ["cancel", "submit"]


def test_an_app_error_keeps_its_own_code_and_status():
    class Rerouted(ConcurrentUpdate):
        code = "rerouted"

    response = answer(Rerouted(state="submitted"))
    assert (response.status_code, response.data["code"], response.data["state"]) == (
        409,
        "rerouted",
        "submitted",
    )


def test_a_code_can_be_given_per_raise():
    assert answer(DomainError("Refused.", code="sign_in_refused")).data["code"] == "sign_in_refused"
