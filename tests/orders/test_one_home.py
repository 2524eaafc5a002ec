"""The order rules that had several homes each have one, which every entry point calls."""

from pathlib import Path

import pytest
from django.db import connection

from notifications.models import Notification
from orders import payment_services, services
from orders.errors import InvalidOrder
from orders.models import Order, Payment

from .helpers import FEE, doctor_order

ROOT = Path(__file__).resolve().parents[2]
APPS = ["registry", "notifications", "pki", "cards", "orders", "stations", "lifecycle", "ecps", "portal"]


def application_sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), path.read_text(errors="replace")


def test_create_and_submit_is_written_once_in_order_place():
    """A caller that creates an order and submits it at once (the portal, the API, an opposition, a
    renewal) calls ``order_place``: no module but orders/services.py calls both halves itself."""
    both = [
        relative
        for relative, text in application_sources()
        if "order_create(" in text and "order_submit(" in text and relative != "orders/services.py"
    ]
    assert both == []
    placing = {relative for relative, text in application_sources() if "order_place" in text}
    assert {"orders/api.py", "portal/views/manager.py"} <= placing


@pytest.mark.django_db
def test_a_rejection_needs_a_reason_of_the_minimum_length(cnom):
    order = doctor_order("submitted")
    short = "  " + "x" * (services.REJECTION_REASON_MIN_LENGTH - 1) + "  "
    with pytest.raises(InvalidOrder) as caught:
        services.order_reject(order=order, actor=cnom, reason=short)
    assert caught.value.field == "reason"
    order.refresh_from_db()
    assert order.state == "submitted" and not Notification.objects.exists()
    enough = "x" * services.REJECTION_REASON_MIN_LENGTH
    assert services.order_reject(order=order, actor=cnom, reason=enough).state == "rejected"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["transfer", "cheque", "card_online"])
def test_operators_record_transfers_and_cheques_only(cnom, method):
    order = doctor_order("awaiting_payment")

    def record():
        return payment_services.payment_record(
            order=order, actor=cnom, amount=FEE, method=method, reference="R-1"
        )

    if method in payment_services.OPERATOR_METHODS:
        assert record().method == method
    else:
        with pytest.raises(InvalidOrder) as caught:
            record()
        assert caught.value.field == "method"
        assert not Payment.objects.exists()


@pytest.mark.django_db
def test_the_platform_records_an_online_payment(system):
    order = doctor_order("awaiting_payment")
    payment = payment_services.payment_record(
        order=order, actor=system, amount=FEE, method="card_online", reference="chk_1"
    )
    assert payment.method == "card_online"


@pytest.mark.django_db
def test_the_orders_under_way_are_one_tuple_the_sql_can_read():
    states = {state: doctor_order(state) for state in Order.State.values}
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM orders_order WHERE state = ANY(%s)", [list(Order.OPEN_STATES)])
        found = {row[0] for row in cursor.fetchall()}
    under_way = {state for state, order in states.items() if order.pk in found}
    assert under_way == set(Order.State.values) - {"draft", "rejected", "cancelled"}
    assert all(type(state) is str for state in Order.OPEN_STATES)
