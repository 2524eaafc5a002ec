"""The statements of one order's review, counted: a regression here is a slower platform for everyone.

submit: lock (with the holder, exercise, authority and replaced card), every eligibility question in one
``SELECT EXISTS (...), EXISTS (...)``, the UPDATE, the event, and the outbox (insert, read back).
approve → queue: the same, the authority re-derived from the locked row without a query, the two
transitions written as one UPDATE and one two-row INSERT.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import services
from tests.factories import ExerciseFactory, OrderFactory

pytestmark = pytest.mark.django_db


def statements(call):
    with CaptureQueriesContext(connection) as captured:
        call()
    sql = [q["sql"] for q in captured.captured_queries]
    return [s for s in sql if not s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def test_submit_then_approve_and_queue_take_six_statements_each(cnom, system):
    order = OrderFactory(exercise=ExerciseFactory())
    submit = statements(lambda: services.order_submit(order=order.pk, actor=system))
    approve = statements(lambda: services.order_approve(order=order.pk, actor=cnom))
    assert len(submit) == 6, "\n".join(submit)
    assert len(approve) == 6, "\n".join(approve)
    assert sum(s.startswith("UPDATE") for s in approve) == 1


def test_the_system_user_is_one_query_once_it_exists(system):
    assert len(statements(services.system_user)) == 1
