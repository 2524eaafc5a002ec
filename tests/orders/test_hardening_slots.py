"""One order under way per slot, guaranteed by the database: racing submissions of duplicate drafts give one
order under way and clean 409s (issue 15), and the winner can still be approved."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from orders import services
from orders.errors import OpenOrderExists
from orders.models import Order
from registry.models import Account, CardType, StructureMember
from tests.factories import (
    ExerciseFactory,
    OrderFactory,
    StructureFactory,
    StructureMemberFactory,
    persona,
)

N = 20


def _together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once, each in its own thread with its own database connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []
    lock = threading.Lock()

    def run(call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            outcome = call()
        except Exception as exc:  # the test reads what each call answered, whatever it was
            outcome = exc
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _answers(responses: list[Any]) -> list[tuple[int, str | None]]:
    return sorted((r.status_code, r.json().get("code") if r.status_code >= 400 else None) for r in responses)


def _open_orders(exercise: Any) -> int:
    return Order.objects.filter(exercise=exercise, state__in=Order.OPEN_STATES).count()


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_submits_of_duplicate_drafts_give_one_order_under_way():
    exercise = ExerciseFactory()
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    drafts = [OrderFactory(exercise=exercise, professional=exercise.professional) for _ in range(N)]

    def submit(order: Order) -> Callable[[], Any]:
        return lambda: _api(holder).post(f"/api/v1/orders/{order.pk}/submit/", {}, format="json")

    answers = _answers(_together([submit(order) for order in drafts]))

    assert answers == [(200, None)] + [(409, "open_order_exists")] * (N - 1)
    assert _open_orders(exercise) == 1
    # The one under way is not blocked by the others (they stay drafts): its approval goes through.
    winner = Order.objects.get(exercise=exercise, state=Order.State.SUBMITTED)
    cnom = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    assert services.order_approve(order=winner.pk, actor=cnom).state == Order.State.QUEUED


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_placements_of_one_first_card_give_one_order():
    exercise = ExerciseFactory()
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    body = {
        "professional": exercise.professional_id,
        "exercise": exercise.pk,
        "card_type": "CPS",
        "kind": "first",
        "submit": True,
    }

    def place() -> Any:
        return _api(holder).post("/api/v1/orders/", body, format="json")

    answers = _answers(_together([place] * N))

    assert answers == [(201, None)] + [(409, "open_order_exists")] * (N - 1)
    assert _open_orders(exercise) == 1
    assert Order.objects.filter(exercise=exercise).count() == 1  # a refused placement leaves no draft


@pytest.mark.django_db(transaction=True)
def test_parallel_submits_of_one_structure_card_give_one_order_under_way():
    member = StructureMemberFactory(structure=StructureFactory(), role=StructureMember.Role.STAFF)
    holder = persona(Account.Role.HOLDER, professional=member.professional)
    slot = {
        "exercise": None,
        "professional": member.professional,
        "structure": member.structure,
        "card_type": CardType.CPE,
    }
    drafts = [OrderFactory(**slot) for _ in range(5)]

    results = _together(
        [lambda order=order: services.order_submit(order=order.pk, actor=holder) for order in drafts]
    )

    assert sum(isinstance(r, Order) for r in results) == 1
    assert all(isinstance(r, OpenOrderExists) for r in results if not isinstance(r, Order)), results
    assert Order.objects.filter(state=Order.State.SUBMITTED, **slot).count() == 1


@pytest.mark.django_db
def test_an_open_order_already_there_is_a_conflict_not_an_ineligibility():
    exercise = ExerciseFactory()
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    OrderFactory(exercise=exercise, professional=exercise.professional, state=Order.State.APPROVED)
    draft = OrderFactory(exercise=exercise, professional=exercise.professional)

    answer = _api(holder).post(f"/api/v1/orders/{draft.pk}/submit/", {}, format="json")

    assert answer.status_code == 409, answer.content
    body = answer.json()
    assert body["code"] == "open_order_exists" and body["message"]
    assert [r["code"] for r in body["reasons"]] == ["open_order_exists"]
    assert body["state"] == "draft" and "submit" in body["allowed_transitions"]


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["submitted", "approved", "awaiting_payment", "queued", "failed"])
def test_the_database_refuses_a_second_order_under_way_in_a_slot(state):
    exercise = ExerciseFactory()
    OrderFactory(exercise=exercise, professional=exercise.professional, state=state)
    with pytest.raises(IntegrityError, match="order_one_open_per_exercise"), transaction.atomic():
        OrderFactory(exercise=exercise, professional=exercise.professional, state="submitted")


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["draft", "produced", "rejected", "cancelled"])
def test_orders_not_under_way_leave_the_slot_free(state):
    exercise = ExerciseFactory()
    OrderFactory(exercise=exercise, professional=exercise.professional, state=state)
    OrderFactory(exercise=exercise, professional=exercise.professional, state="submitted")


@pytest.mark.django_db
def test_the_migration_resolves_the_duplicates_the_race_let_through():
    """Orders 0007 cancels, in each crowded slot, all but the order furthest along (the oldest among
    equals), so that the constraint can be created on a database the race already hit."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("orders.migrations.0007_one_open_order_per_slot")
    with connection.cursor() as cursor:  # as the database was before 0007 (rolled back with the test)
        cursor.execute("DROP INDEX order_one_open_per_exercise")
    exercise = ExerciseFactory()
    slot = {"exercise": exercise, "professional": exercise.professional}
    first, second = OrderFactory(**slot, state="submitted"), OrderFactory(**slot, state="submitted")
    ahead = OrderFactory(**slot, state="approved")
    untouched = OrderFactory(exercise=ExerciseFactory(), state="submitted")

    migration.cancel_duplicates(apps, None)

    states = dict(Order.objects.values_list("pk", "state"))
    assert states == {
        first.pk: "cancelled",
        second.pk: "cancelled",
        ahead.pk: "approved",
        untouched.pk: "submitted",
    }
    reasons = set(first.events.values_list("reason", flat=True)) | set(
        second.events.values_list("reason", flat=True)
    )
    assert reasons == {f"Duplicate of order {ahead.pk} in the same slot (one open order per slot)"}
