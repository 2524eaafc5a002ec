"""The reminder's decline link in a real browser: ``/renew/decline/#<token>``. The page's script
(portal/renew.js, the renewal link's, with its own storage key) posts the token, so the server never receives
it in a URL; the page passes axe. And the button on the holder's page of an automatic renewal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from lifecycle.models import RenewalReminder
from lifecycle.policies import policies_ensure
from lifecycle.renewal import _url_template, renewal_reminders_send
from notifications.models import Notification
from orders.models import Order
from registry.models import Account, Authority
from tests.e2e.conftest import (  # noqa: F401 (fixtures)
    PASSWORD,
    assert_accessible,
    assert_no_axe_violations,
    outside_world,
    screenshot,
    sign_in,
)
from tests.factories import ActivityFactory, CardFactory, TariffFactory, persona

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def reminded(settings, live_server) -> tuple[Any, Any, str]:
    """A holder whose card expires in 80 days: its automatic renewal placed (the default policy) and the
    reminder sent, with its decline link pointing at the live server."""
    settings.CPX_BASE_URL = live_server.url
    _url_template.cache_clear()
    for authority in Authority.objects.all():  # the defaults, as after the migration (a flush empties them)
        policies_ensure(authority)
    TariffFactory()
    today = timezone.localdate()
    card: Any = CardFactory(exercise=ActivityFactory().exercise, valid_until=today + dt.timedelta(days=80))
    renewal_reminders_send(today=today)
    holder = persona(Account.Role.HOLDER, professional=card.professional)
    told = Notification.objects.get(event="renewal_due", channel="email")
    return holder, card, told.context["decline_url"]


def test_a_holder_declines_from_the_link_and_the_page_passes_axe(page, reminded, received):  # noqa: F811
    holder, card, link = reminded
    token = link.partition("#")[2]
    holder.set_password(PASSWORD)
    holder.save(update_fields=["password"])
    page.goto(link)
    page.locator("[data-renewal-sign-in] a").click()  # not signed in: the token waits in the tab
    page.get_by_label("Nom d’utilisateur").fill(holder.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    button = page.locator("[data-renewal-confirm] button")
    expect(button).to_be_visible()
    assert "#" not in page.url
    assert page.locator("[data-renewal-confirm] [name=token]").input_value() == token
    assert_accessible(page)
    assert_no_axe_violations(page)
    screenshot(page, "renewal-decline-link")
    button.click()
    page.wait_for_url(f"**/cards/{card.pk}/")
    assert Order.objects.get(replaces=card).state == Order.State.CANCELLED
    assert RenewalReminder.objects.get(card=card).declined_at is not None
    assert not [line for line in received if token in line], received


def test_a_holder_declines_from_the_order_page(page, reminded):  # noqa: F811
    holder, card, _link = reminded
    order = Order.objects.get(replaces=card)
    sign_in(page, holder)
    page.goto(f"/orders/{order.pk}/")
    assert_no_axe_violations(page)
    page.locator('[data-action="decline-renewal"]').click()
    page.wait_for_url(f"**/orders/{order.pk}/")
    expect(page.locator('[data-action="decline-renewal"]')).to_have_count(0)
    assert Order.objects.get(pk=order.pk).state == Order.State.CANCELLED
