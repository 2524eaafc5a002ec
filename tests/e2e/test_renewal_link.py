"""The reminder's renewal link in a real browser: ``/renew/#<token>``. The page's script (portal/renew.js)
posts the token, so the server never receives it in a URL, whether the holder is signed in or signs in on the
way (the token waits in the tab's session storage)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from lifecycle.models import RenewalReminder
from lifecycle.renewal import _url_template, renewal_link_url
from orders.models import Order
from registry.models import Account
from tests.e2e.conftest import PASSWORD, screenshot, sign_in
from tests.factories import ActivityFactory, CardFactory, OrderFactory, TariffFactory, persona

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def reminded(settings, live_server) -> tuple[Any, str]:
    """A holder whose card expires in 60 days, and the link of its reminder (pointing at the live server)."""
    settings.CPX_BASE_URL = live_server.url
    _url_template.cache_clear()  # the links' base, cached per process (an earlier test built it)
    TariffFactory()
    activity = ActivityFactory()
    card: Any = CardFactory(
        exercise=activity.exercise, valid_until=timezone.localdate() + dt.timedelta(days=60)
    )
    OrderFactory(exercise=activity.exercise, state=Order.State.PRODUCED, produced_card=card)
    holder = persona(Account.Role.HOLDER, professional=card.professional)
    return holder, renewal_link_url(RenewalReminder.objects.create(card=card, threshold=90))


def confirm_and_check(page: Any, token: str, received: list[str]) -> None:
    button = page.get_by_role("button", name="Confirmer le renouvellement")
    expect(button).to_be_visible()
    assert "#" not in page.url  # the token left the address bar (and the history) at once
    # The server did not write the token into the page: the script put it back into the form.
    assert page.locator("[data-renewal-confirm] [name=token]").input_value() == token
    button.click()
    page.wait_for_url("**/orders/*/")
    assert Order.objects.filter(kind=Order.Kind.RENEWAL).count() == 1
    assert RenewalReminder.objects.get().link_used_at is not None
    assert not [line for line in received if token in line], received


def test_a_signed_in_holder_renews_from_the_link(page, reminded, received):
    holder, link = reminded
    token = link.partition("#")[2]
    sign_in(page, holder)
    page.goto(link)
    confirm_and_check(page, token, received)
    screenshot(page, "renewal-link-ordered")


def test_a_holder_signs_in_on_the_way_and_the_link_still_works(page, reminded, received):
    holder, link = reminded
    token = link.partition("#")[2]
    holder.set_password(PASSWORD)
    holder.save(update_fields=["password"])
    page.goto(link)
    page.locator("[data-renewal-sign-in] a").click()
    page.get_by_label("Nom d’utilisateur").fill(holder.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    confirm_and_check(page, token, received)
