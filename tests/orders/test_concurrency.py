"""Concurrent transitions on the real PostgreSQL: one wins, the others get a clean conflict."""

import threading

import pytest
from django.db import connection

from notifications.models import Notification
from orders import services
from orders.errors import ConcurrentUpdate, InvalidTransition
from orders.models import Order, OrderEvent
from registry.models import Account
from tests.factories import persona

from .helpers import doctor_order

N = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_approvals_give_one_success_and_clean_conflicts():
    order = doctor_order("submitted", kind="first", replacement_reason="", replaces=None)
    operators = [persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM") for _ in range(N)]
    barrier = threading.Barrier(N)
    results: list[object] = []
    lock = threading.Lock()

    def approve(actor):
        try:
            barrier.wait()
            outcome: object = services.order_approve(order=order.pk, actor=actor).state
        except (InvalidTransition, ConcurrentUpdate) as exc:
            outcome = type(exc)
        except Exception as exc:  # anything else is a failure of the test
            outcome = exc
        finally:
            connection.close()  # each thread has its own connection
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=approve, args=(op,)) for op in operators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count(Order.State.QUEUED) == 1
    assert all(r in (InvalidTransition, ConcurrentUpdate) for r in results if r != Order.State.QUEUED), (
        results
    )
    order.refresh_from_db()
    assert order.state == Order.State.QUEUED
    assert OrderEvent.objects.filter(order=order, transition="approve").count() == 1
    assert OrderEvent.objects.filter(order=order, transition="queue").count() == 1
    # The holder is told once, by the winner (e-mail and in-app); the losers' rows rolled back with them.
    told = Notification.objects.filter(recipient=order.professional, event="order_approved")
    assert sorted(told.values_list("channel", flat=True)) == ["email", "in_app"]
