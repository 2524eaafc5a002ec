"""Declining a renewal (issue 16: the holder leaving practice): the reminder's second link, ``/renew/decline/
#<token>`` (the token in the fragment, posted by the page's script, as the renewal link), and the button on
the holder's page of a renewal the platform placed. Works once; the automatic renewal is cancelled with its
reason, the holder told, and no renewal nor reminder follows."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from freezegun import freeze_time

from cards.models import Card
from lifecycle import errors
from lifecycle.models import RenewalReminder
from lifecycle.renewal import (
    DECLINE_REASON,
    renewal_decline,
    renewal_decline_token,
    renewal_link_token,
    renewal_reminders_send,
)
from lifecycle.renewal_orders import renewal_orders_place
from notifications.models import Notification
from orders.models import Order, OrderEvent
from registry.models import Account
from tests.factories import ActivityFactory, CardFactory, persona

pytestmark = pytest.mark.django_db

EXPIRY = dt.date(2027, 6, 30)
REMINDED_ON = EXPIRY - dt.timedelta(days=90)


@pytest.fixture
def renewing(tariff) -> Any:
    """An active CPS whose automatic renewal (the default policy) is under way and reminded, the clock a few
    days after the reminder."""
    card = CardFactory(exercise=ActivityFactory().exercise, valid_until=EXPIRY)
    with freeze_time(REMINDED_ON):
        renewal_reminders_send(today=REMINDED_ON)
    with freeze_time(REMINDED_ON + dt.timedelta(days=3)):
        yield card


@pytest.fixture
def tariff(db):
    from tests.factories import TariffFactory

    return TariffFactory()


def link_of(card: Card) -> str:
    return Notification.objects.get(
        event="renewal_due", channel="email", recipient=card.professional
    ).context["decline_url"]


def holder_of(card: Card) -> Any:
    return persona(Account.Role.HOLDER, professional=card.professional)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_decline_link_cancels_the_automatic_renewal_once(renewing):
    order = Order.objects.get(replaces=renewing)
    assert (order.origin, order.state) == ("automatic", "approved")
    token = link_of(renewing).partition("#")[2]
    holder = holder_of(renewing)
    reminder = renewal_decline(token=token, actor=holder)
    assert reminder.declined_at is not None
    order.refresh_from_db()
    assert order.state == Order.State.CANCELLED
    cancel = OrderEvent.objects.get(order=order, transition="cancel")
    assert cancel.reason == DECLINE_REASON and cancel.actor.account.role == Account.Role.HOLDER
    told = Notification.objects.get(event="renewal_declined", channel="email")
    assert told.context == {
        "card_number": renewing.display_number,
        "card_type": "CPS",
        "expires_on": "2027-06-30",
    }
    with pytest.raises(errors.RenewalLinkUsed):
        renewal_decline(token=token, actor=holder)
    assert Notification.objects.filter(event="renewal_declined").count() == 2  # e-mail + in-app, once
    # Nothing follows: no renewal placed again, no second reminder.
    assert renewal_orders_place(today=REMINDED_ON + dt.timedelta(days=4)) == 0
    second = EXPIRY - dt.timedelta(days=30)
    with freeze_time(second):
        assert renewal_reminders_send(today=second) == {90: 0, 30: 0}


def test_a_renewal_link_token_does_not_decline_and_a_forged_one_is_invalid(renewing):
    reminder = RenewalReminder.objects.get(card=renewing)
    with pytest.raises(errors.RenewalLinkInvalid):
        renewal_decline(token=renewal_link_token(reminder))
    with pytest.raises(errors.RenewalLinkInvalid):
        renewal_decline(token=renewal_decline_token(reminder)[:-2] + "xx")
    assert Order.objects.get(replaces=renewing).state == Order.State.APPROVED


def test_a_card_already_in_production_can_no_longer_be_declined(renewing):
    Order.objects.filter(replaces=renewing).update(state=Order.State.IN_PRODUCTION)
    token = link_of(renewing).partition("#")[2]
    with pytest.raises(errors.RenewalRefused):
        renewal_decline(token=token, actor=holder_of(renewing))
    assert RenewalReminder.objects.get(card=renewing).declined_at is None  # the claim rolled back


def test_only_the_cards_holder_declines_a_forwarded_link_is_no_use(renewing):
    token = link_of(renewing).partition("#")[2]
    for someone_else in (None, persona(Account.Role.HOLDER), persona(Account.Role.ANS_OPERATOR)):
        with pytest.raises(errors.RenewalLinkInvalid):
            renewal_decline(token=token, actor=someone_else)
    assert Order.objects.get(replaces=renewing).state == Order.State.APPROVED
    assert RenewalReminder.objects.get(card=renewing).declined_at is None


def test_the_expired_link_is_refused(renewing, settings):
    token = link_of(renewing).partition("#")[2]
    settings.CPX_RENEWAL_LINK_MAX_AGE_DAYS = 1  # signed 3 days ago
    with pytest.raises(errors.RenewalLinkExpired):
        renewal_decline(token=token)


# --- the page ------------------------------------------------------------------------------------------


def test_the_page_declines_without_the_token_in_any_url(renewing, received):
    link = link_of(renewing)
    assert link.startswith(f"{django_settings.CPX_BASE_URL}/renew/decline/#")
    token = link.partition("#")[2]
    browser = signed_in(holder_of(renewing))
    opened = browser.get("/renew/decline/")
    html = opened.content.decode()
    assert opened.status_code == 200 and "no-store" in opened["Cache-Control"]
    assert "data-renewal-form" in html and "portal/renew.js" in html and "cpx-renewal-decline-token" in html
    shown = browser.post("/renew/decline/", {"token": token, "step": "show"})
    page = shown.content.decode()
    assert shown.status_code == 200 and renewing.display_number in page and token not in page
    assert "data-renewal-confirm" in page
    assert Order.objects.get(replaces=renewing).state == Order.State.APPROVED  # showing changes nothing
    confirmed = browser.post("/renew/decline/", {"token": token, "step": "confirm"})
    assert confirmed.status_code == 302 and confirmed["Location"] == f"/cards/{renewing.pk}/"
    assert Order.objects.get(replaces=renewing).state == Order.State.CANCELLED
    again = browser.post("/renew/decline/", {"token": token, "step": "show"})
    assert "data-renewal-done" in again.content.decode()  # already declined: no button
    twice = browser.post("/renew/decline/", {"token": token, "step": "confirm"})
    assert twice.status_code == 303
    assert not [line for line in received if token in line], received


def test_the_page_asks_a_holder_to_sign_in_and_refuses_others(renewing):
    token = link_of(renewing).partition("#")[2]
    opened = Client().get("/renew/decline/")
    assert "/accounts/login/?next=%2Frenew%2Fdecline%2F" in opened.content.decode()
    refused = Client().post("/renew/decline/", {"token": token, "step": "confirm"})
    assert refused.status_code == 302 and refused["Location"].startswith("/accounts/login/")
    stranger = signed_in(persona(Account.Role.HOLDER))
    assert stranger.post("/renew/decline/", {"token": token, "step": "confirm"}).status_code == 404
    assert signed_in(holder_of(renewing)).post("/renew/decline/", {"token": "forged"}).status_code == 410
    assert Order.objects.get(replaces=renewing).state == Order.State.APPROVED


def test_the_decline_page_is_rate_limited_like_the_renewal_link(renewing, settings):
    limits = copy.deepcopy(django_settings.CPX_RATE_LIMITS)
    limits["renewal-links"]["rate"] = "3/h"
    settings.CPX_RATE_LIMITS = limits
    client = Client(REMOTE_ADDR="192.0.2.60")
    client.force_login(holder_of(renewing))
    for _ in range(3):
        assert client.post("/renew/decline/", {"token": "guess"}).status_code != 429
    assert client.post("/renew/decline/", {"token": "guess"}).status_code == 429


def test_the_holder_declines_from_the_order_page(renewing):
    order = Order.objects.get(replaces=renewing)
    browser = signed_in(holder_of(renewing))
    page = browser.get(f"/orders/{order.pk}/").content.decode()
    assert 'data-action="decline-renewal"' in page
    done = browser.post(f"/orders/{order.pk}/decline-renewal/")
    assert done.status_code == 302 and done["Location"] == f"/orders/{order.pk}/"
    order.refresh_from_db()
    assert order.state == Order.State.CANCELLED
    assert RenewalReminder.objects.get(card=renewing).declined_at is not None
    assert Notification.objects.filter(event="renewal_declined").exists()
    assert 'data-action="decline-renewal"' not in browser.get(f"/orders/{order.pk}/").content.decode()


def test_the_order_page_decline_before_any_reminder_stops_the_reminders(tariff):
    card = CardFactory(exercise=ActivityFactory().exercise, valid_until=EXPIRY)
    placed_on = EXPIRY - dt.timedelta(days=110)
    with freeze_time(placed_on):
        assert renewal_orders_place(today=placed_on) == 1
        order = Order.objects.get(replaces=card)
        signed_in(holder_of(card)).post(f"/orders/{order.pk}/decline-renewal/")
    assert Order.objects.get(pk=order.pk).state == Order.State.CANCELLED
    for days in (90, 30):
        with freeze_time(EXPIRY - dt.timedelta(days=days)):
            assert renewal_reminders_send(today=EXPIRY - dt.timedelta(days=days)) == {90: 0, 30: 0}


def test_only_the_holder_declines_and_only_a_renewal_the_platform_placed(renewing, tariff):
    order = Order.objects.get(replaces=renewing)
    requested = CardFactory(exercise=ActivityFactory().exercise, valid_until=EXPIRY)
    holder = holder_of(requested)
    from lifecycle.renewal import renewal_link_confirm

    own = renewal_link_confirm(
        token=renewal_link_token(RenewalReminder.objects.create(card=requested, threshold=90)), actor=holder
    )
    browser = signed_in(holder)
    assert 'data-action="decline-renewal"' not in browser.get(f"/orders/{own.pk}/").content.decode()
    refused = browser.post(f"/orders/{own.pk}/decline-renewal/", {"next": f"/orders/{own.pk}/"})
    assert refused.status_code == 303 and refused["Location"] == f"/orders/{own.pk}/"
    assert Order.objects.get(pk=own.pk).state == Order.State.SUBMITTED
    cnom = signed_in(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    assert cnom.post(f"/orders/{order.pk}/decline-renewal/").status_code == 403
    other = signed_in(persona(Account.Role.HOLDER))
    assert other.post(f"/orders/{order.pk}/decline-renewal/").status_code == 404
    assert Order.objects.get(pk=order.pk).state == Order.State.APPROVED
