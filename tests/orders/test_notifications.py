"""The holder is told of their order's review through the outbox, in the transaction of the transition."""

from decimal import Decimal

import pytest
from django.db import transaction

from notifications.models import Notification
from notifications.services import notify
from orders import services
from orders.errors import InvalidTransition, NotEligible, NotPermitted
from registry.models import Account
from tests.factories import persona

from .helpers import FEE, doctor_order

pytestmark = pytest.mark.django_db


def first(state="draft", **kwargs):
    return doctor_order(state, kind="first", replacement_reason="", replaces=None, **kwargs)


def told(order, event=None):
    """The channels of the rows written for ``order``'s holder (of ``event``), sorted."""
    rows = Notification.objects.filter(recipient=order.professional)
    if event is not None:
        rows = rows.filter(event=event)
    return sorted(rows.values_list("event", "channel"))


def holder_of(order):
    return persona(Account.Role.HOLDER, professional=order.professional)


def test_submission_tells_the_holder_the_order_was_received():
    order = first()
    services.order_submit(order=order, actor=holder_of(order))
    assert told(order) == [("order_received", "email"), ("order_received", "in_app")]
    row = Notification.objects.get(event="order_received", channel="email")
    assert row.context == {"order_reference": str(order.pk), "card_type": "CPS"}
    assert row.dedup_key == f"order:{order.pk}:order_received"


def test_a_holder_without_an_address_is_told_by_letter():
    order = first()
    order.professional.email = ""
    order.professional.save()
    services.order_submit(order=order, actor=holder_of(order))
    assert told(order) == [("order_received", "in_app"), ("order_received", "letter")]


def test_a_replacement_is_acknowledged_once_as_replacement_ordered():
    order = doctor_order("draft")  # a lost card's replacement: paid
    services.order_submit(order=order, actor=holder_of(order))
    assert told(order) == [("replacement_ordered", "email"), ("replacement_ordered", "in_app")]
    row = Notification.objects.get(event="replacement_ordered", channel="email")
    context = {
        "card_number": order.replaces.display_number,
        "order_reference": str(order.pk),
        "amount": "36.00",
        "free": False,
    }
    assert row.context == context
    # Told by the submission only, once: the same occurrence told again under its key adds nothing.
    key = f"replacement_ordered:{order.pk}"
    notify(recipient=order.professional, event="replacement_ordered", context=context, dedup_key=key)
    assert Notification.objects.count() == 2


def test_a_free_approval_tells_the_holder_with_the_authority(cnom):
    order = first("submitted")
    services.order_approve(order=order, actor=cnom)
    assert told(order) == [("order_approved", "email"), ("order_approved", "in_app")]
    row = Notification.objects.get(event="order_approved", channel="in_app")
    assert row.context["authority"] == order.authority.name
    assert row.dedup_key == f"order:{order.pk}:order_approved"


def test_a_paid_approval_asks_for_the_amount_due(cnom):
    order = doctor_order("submitted", fee=FEE)
    services.order_approve(order=order, actor=cnom)
    # The payment request says the order is approved: one message, not two.
    assert told(order) == [("awaiting_payment", "email"), ("awaiting_payment", "in_app")]
    row = Notification.objects.get(event="awaiting_payment", channel="email")
    assert Decimal(row.context["amount"]) == FEE
    assert row.context["payment_url"].endswith(f"/orders/{order.pk}/")


def test_a_rejection_tells_the_holder_why(cnom):
    order = first("submitted")
    services.order_reject(order=order, actor=cnom, reason="  Pièce d'identité illisible ")
    assert told(order) == [("order_rejected", "email"), ("order_rejected", "in_app")]
    row = Notification.objects.get(event="order_rejected", channel="email")
    assert row.context["reason"] == "Pièce d'identité illisible"
    assert row.context["authority"] == order.authority.name


def test_nothing_is_told_when_a_transition_is_forbidden_or_impossible(cnom):
    submitted = first("submitted")
    with pytest.raises(NotPermitted):
        services.order_reject(order=submitted, actor=holder_of(submitted), reason="no")
    with pytest.raises(NotPermitted):
        services.order_submit(order=first(), actor=persona("auditor"))
    queued = first("queued")
    with pytest.raises(InvalidTransition):
        services.order_approve(order=queued, actor=cnom)
    ineligible = first("submitted")
    ineligible.professional.is_active = False
    ineligible.professional.save()
    with pytest.raises(NotEligible):
        services.order_approve(order=ineligible, actor=cnom)
    assert not Notification.objects.exists()


def test_the_messages_roll_back_with_the_transition(cnom):
    order = first()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.order_submit(order=order, actor=holder_of(order))
        assert told(order, "order_received")  # written inside the transaction...
        raise RuntimeError("the caller fails after the submission")
    order.refresh_from_db()
    assert order.state == "draft"
    assert not Notification.objects.exists()  # ...and gone with it


def test_a_retried_approval_does_not_tell_twice(cnom):
    order = first("submitted")
    services.order_approve(order=order, actor=cnom)
    with pytest.raises(InvalidTransition):
        services.order_approve(order=order, actor=cnom)
    assert len(told(order, "order_approved")) == 2
