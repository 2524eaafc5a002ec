"""The holder's in-app messages over the REST API: their own only, with read and unread."""

import pytest

from notifications import services
from notifications.events import EVENTS

from .conftest import SAMPLE_CONTEXT, client_for, make_professional

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.notifications.urls")]

URL = "/api/v1/messages/"


def message_for(professional, key: str, event: str = "order_received"):
    context = {k: SAMPLE_CONTEXT[k] for k in EVENTS[event].fields}
    rows = services.notify(recipient=professional, event=event, context=context, dedup_key=key)
    return next(n for n in rows if n.channel == "in_app")


@pytest.fixture
def owner(holder):
    return client_for(holder, "owner")


@pytest.fixture
def stranger(db):
    return client_for(make_professional(email="s@example.fr"), "stranger")


def test_the_holder_lists_their_messages_newest_first(holder, owner):
    first = message_for(holder, "a")
    second = message_for(holder, "b", event="order_approved")
    response = owner.get(URL)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [m["id"] for m in results] == [second.pk, first.pk]
    assert results[1]["subject"] == "Votre commande de carte CPS n° CMD-2026-000042 a bien été reçue"
    assert "Dr Claire Martin" in results[1]["body"]
    assert results[1]["is_read"] is False


def test_emails_and_letters_are_not_in_app_messages(holder, owner):
    message_for(holder, "a")
    assert response_ids(owner.get(URL)) == [m.pk for m in holder.notifications.filter(channel="in_app")]


def test_the_holder_marks_a_message_read_once(holder, owner):
    message = message_for(holder, "a")
    response = owner.post(f"{URL}{message.pk}/read/")
    assert response.status_code == 200
    read_at = response.json()["read_at"]
    assert read_at and response.json()["is_read"] is True
    assert owner.post(f"{URL}{message.pk}/read/").json()["read_at"] == read_at


def test_unread_filter_and_count(holder, owner):
    read = message_for(holder, "a")
    unread = message_for(holder, "b")
    owner.post(f"{URL}{read.pk}/read/")
    assert response_ids(owner.get(URL, {"unread": "true"})) == [unread.pk]
    assert response_ids(owner.get(URL, {"unread": "false"})) == [read.pk]
    assert owner.get(f"{URL}unread-count/").json() == {"unread": 1}
    assert owner.post(f"{URL}read-all/").json() == {"marked": 1}
    assert owner.get(f"{URL}unread-count/").json() == {"unread": 0}


@pytest.mark.parametrize("action", ["get", "read"])
def test_another_holders_message_is_not_found(holder, stranger, action):
    message = message_for(holder, "a")
    if action == "get":
        response = stranger.get(f"{URL}{message.pk}/")
    else:
        response = stranger.post(f"{URL}{message.pk}/read/")
    assert response.status_code == 404
    message.refresh_from_db()
    assert message.read_at is None


def test_a_stranger_sees_none_of_someone_elses_messages(holder, stranger):
    message_for(holder, "a")
    assert stranger.get(URL).json()["results"] == []
    assert stranger.post(f"{URL}read-all/").json() == {"marked": 0}


def test_an_account_that_is_not_a_person_has_no_messages(holder):
    message = message_for(holder, "a")
    operator = client_for(None, "operator")
    assert operator.get(URL).json()["results"] == []
    assert operator.get(f"{URL}{message.pk}/").status_code == 404


def test_it_requires_sign_in(holder, client):
    message = message_for(holder, "a")
    assert client.get(URL).status_code in {401, 403}
    assert client.post(f"{URL}{message.pk}/read/").status_code in {401, 403}


def test_the_schema_declares_every_response(client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = {path: ops for path, ops in schema["paths"].items() if path.startswith("/api/v1/messages/")}
    assert set(paths) == {
        "/api/v1/messages/",
        "/api/v1/messages/{id}/",
        "/api/v1/messages/{id}/read/",
        "/api/v1/messages/read-all/",
        "/api/v1/messages/unread-count/",
    }
    for operations in paths.values():
        for operation in operations.values():
            assert {"200", "401", "403"} <= set(operation["responses"])


def response_ids(response) -> list[int]:
    return [m["id"] for m in response.json()["results"]]
