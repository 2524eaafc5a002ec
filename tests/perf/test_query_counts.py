"""The statements of the busiest requests and of every order transition, counted (issue 17).

bench/bench_load.py drives holders reading their cards (GET /api/v1/cards/, 9 requests in 10) and Ordre
operators approving orders (POST /api/v1/orders/{id}/approve/); bench/bench_orders.py drives submit →
approve → queue through ``orders.services``. Each statement is a round trip and a query the ORM compiles
and PostgreSQL plans: one more on these paths is a slower platform for everyone, so the counts are pinned
here, and none may grow with the rows a request shows (cards, an order's history).

Counted: every statement but the savepoints of the test's own transaction (outside a test an API request's
transaction is BEGIN ... COMMIT instead). The requests authenticate as integrators do, with a Bearer token
(core.auth), the first statement of each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cards.models import Card
from orders import services
from orders.models import OrderEvent
from orders.services import system_user
from registry.models import Account
from tests.api_auth import authorization
from tests.factories import CardFactory, ExerciseFactory, OrderFactory, persona
from tests.orders.helpers import fire, order_and_actor

pytestmark = pytest.mark.django_db

# GET /api/v1/cards/: the token (with its account and user), the page's count, the page (with each card's
# holder and order), the certificates of the page's cards.
CARDS_LIST = 4
# POST /api/v1/orders/{id}/approve/: the token; the order through the actor's scope (who may act is asked
# before the body is read); the service's six (tests/orders/test_queries.py: the lock, the eligibility
# questions in one statement, one UPDATE for approve and queue, one INSERT of both events, the outbox's
# insert and read back); the answer: the order with its holder, authority and payment, then its events
# with their actors.
APPROVE = 10
# GET /api/v1/orders/{id}/: the token, then the answer's two.
ORDER_DETAIL = 3
# Each transition through its service (orders.services), from the state it leaves, by a role allowed to
# fire it: the lock, the transition's UPDATE and its event, and what each adds (eligibility, the outbox,
# the card made for the order...).
TRANSITIONS = {
    # name: (from state, role, statements)
    "submit": ("draft", "holder", 6),
    "approve": ("submitted", "authority_operator", 6),
    "reject": ("submitted", "authority_operator", 5),
    "cancel": ("submitted", "holder", 3),
    "queue": ("approved", "authority_operator", 3),
    "record_payment": ("awaiting_payment", "authority_operator", 4),
    "start_production": ("queued", "system", 3),
    "mark_produced": ("in_production", "system", 3),
    # a first failure: the platform requeues it at once (two UPDATEs, two events)
    "mark_failed": ("in_production", "system", 5),
    "requeue": ("failed", "authority_operator", 3),
}


@pytest.fixture(autouse=True)
def _fast_secrets(settings):
    """Integrator secrets hashed quickly: these tests count statements, not PBKDF2 rounds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_production(monkeypatch):
    """The hand-off to the stations (``orders.services._schedule_production``): the outside world."""
    import orders.services

    monkeypatch.setattr(orders.services, "_schedule_production", lambda order_id: None)


def statements(call: Callable[[], Any], savepoints: bool = False) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        result = call()
    sql = [q["sql"] for q in captured.captured_queries]
    return result, [s for s in sql if savepoints or not s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def api(method: str, path: str, user: Any) -> tuple[Any, list[str]]:
    client = Client()
    headers = {"Authorization": authorization(user), "Accept": "application/json"}
    if method == "POST":
        return statements(lambda: client.post(path, b"{}", content_type="application/json", headers=headers))
    return statements(lambda: client.get(path, headers=headers))


def assert_count(sql: list[str], expected: int) -> None:
    assert len(sql) <= expected, f"{len(sql)} statements, {expected} expected:\n" + "\n".join(sql)


def test_a_holders_cards_are_four_statements_whatever_their_number():
    holder = persona(Account.Role.HOLDER)
    card = CardFactory(exercise__professional=holder.account.professional)
    response, one = api("GET", "/api/v1/cards/", holder)
    assert response.status_code == 200 and len(response.json()["results"]) == 1
    for _ in range(3):  # the cards it replaced
        CardFactory(exercise=card.exercise, state=Card.State.EXPIRED)
    response, four = api("GET", "/api/v1/cards/", holder)
    assert response.status_code == 200 and len(response.json()["results"]) == 4
    assert_count(one, CARDS_LIST)
    assert len(four) == len(one), "\n".join(four)


def test_an_approval_through_the_api_is_ten_statements_whatever_the_history():
    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    short = OrderFactory(state="submitted", exercise=ExerciseFactory())
    response, sql = api("POST", f"/api/v1/orders/{short.pk}/approve/", operator)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "queued" and len(response.json()["events"]) == 2
    assert_count(sql, APPROVE)

    long = OrderFactory(state="submitted", exercise=ExerciseFactory())
    for actor in (persona(Account.Role.HOLDER), persona(Account.Role.ANS_OPERATOR), operator):
        OrderEvent.objects.create(order=long, actor=actor, transition="comment", to_state="submitted")
    response, longer = api("POST", f"/api/v1/orders/{long.pk}/approve/", operator)
    assert response.status_code == 200, response.content
    assert len(response.json()["events"]) == 5
    assert len(longer) == len(sql), "\n".join(longer)


def test_an_orders_detail_is_three_statements_whatever_the_history():
    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    holder = persona(Account.Role.HOLDER)
    order = OrderFactory(state="submitted", exercise=ExerciseFactory())
    for actor in (holder, operator, None):
        OrderEvent.objects.create(order=order, actor=actor, transition="comment", to_state="submitted")
    response, sql = api("GET", f"/api/v1/orders/{order.pk}/", operator)
    assert response.status_code == 200, response.content
    body = response.json()
    assert [e["actor"] for e in body["events"]] == [holder.username, operator.username, None]
    assert body["payment"] is None and body["authority"] == "CNOM"
    assert_count(sql, ORDER_DETAIL)


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_each_transition_takes_its_pinned_statements(name):
    state, role, expected = TRANSITIONS[name]
    if name in ("submit", "approve"):  # a first order, as the benchmarks drive them
        order = OrderFactory(state=state, exercise=ExerciseFactory())
        links = {"professional": order.professional} if role == "holder" else {"authority": order.authority}
        actor = persona(role, **links)
    elif role == "system":
        order, actor = order_and_actor("authority_operator", state)[0], system_user()
    else:
        order, actor = order_and_actor(role, state)
    if name == "mark_produced":  # the card the station wrote, before the count
        card = CardFactory(exercise=order.exercise, professional=order.professional, state="personalized")
        call = lambda: services.order_mark_produced(order=order, actor=actor, card=card)  # noqa: E731
    else:
        call = lambda: fire(name, order, actor)  # noqa: E731
    _result, sql = statements(call)
    assert_count(sql, expected)
