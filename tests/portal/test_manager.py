"""The structure manager's pages: staff and their cards, ordering CPE/CPA/CDE, declaring a staff card."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from cards.models import Card
from orders.models import Order
from registry.models import CardType
from tests.factories import CardFactory, OrderFactory, StructureMemberFactory

pytestmark = pytest.mark.django_db

FRAGMENT = Path(__file__).resolve().parents[2] / "locale" / "fragments" / "structure.po"
HEADER = (
    'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
    '"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n'
)


@pytest.fixture(autouse=True)
def structure_catalogue(settings, tmp_path_factory):
    """This area's French (locale/fragments/structure.po) on top of the catalogue, until the lead merges
    it in (from then on it changes nothing). Imported by the area's other test modules."""
    root = tmp_path_factory.getbasetemp() / "structure_locale"
    mo = root / "fr" / "LC_MESSAGES" / "django.mo"
    if not mo.exists():
        mo.parent.mkdir(parents=True, exist_ok=True)
        po = root / "structure.po"
        po.write_text(HEADER + FRAGMENT.read_text(encoding="utf-8"), encoding="utf-8")
        subprocess.run(["msgfmt", "-o", str(mo), str(po)], check=True)
    settings.LOCALE_PATHS = [root, *settings.LOCALE_PATHS]


@pytest.fixture
def staff_card(people):
    member = people.staff_member
    return CardFactory(
        exercise=None, professional=member.professional, structure=member.structure, card_type=CardType.CPE
    )


def test_the_structure_page_lists_the_staff_and_their_cards(people, as_user, staff_card):
    stranger = StructureMemberFactory()  # another structure's staff
    html = as_user(people.manager).get(reverse("portal:structure")).content.decode()
    assert people.staff_member.professional.last_name.upper() in html
    assert staff_card.display_number in html
    assert stranger.professional.last_name.upper() not in html


def test_the_manager_orders_a_cpe_for_a_staff_member(people, as_user):
    url = reverse("portal:structure-order")
    data = {"member": people.staff_member.pk, "card_type": "CPE"}
    response = as_user(people.manager).post(url, data, follow=True)
    order = Order.objects.get(professional=people.staff_member.professional)
    assert (order.card_type, order.state, order.authority.code) == ("CPE", "submitted", "ANS")
    assert "La commande est transmise" in response.content.decode()


def test_an_ineligible_order_is_refused_with_the_rule_in_french(people, as_user):
    data = {"member": people.staff_member.pk, "card_type": "CDE"}  # a staff member is no legal representative
    response = as_user(people.manager).post(reverse("portal:structure-order"), data, follow=True)
    assert response.redirect_chain == [(reverse("portal:structure-order"), 303)]  # back to the form
    assert "La CDE est destinée au représentant légal" in response.content.decode()
    assert not Order.objects.exists()


def test_bad_order_input_gives_french_errors(people, as_user):
    response = as_user(people.manager).post(reverse("portal:structure-order"), {"member": "999999"})
    html = response.content.decode()
    assert "Sélectionnez un choix valide" in html
    assert "Ce champ est obligatoire." in html


def test_the_manager_declares_a_staff_card_lost(people, as_user, staff_card):
    url = reverse("portal:card-declare", args=[staff_card.pk])
    as_user(people.manager).post(url, {"reason": "lost", "confirm": "1"})
    assert Card.objects.get(pk=staff_card.pk).state == Card.State.OPPOSED


def test_the_manager_cannot_see_a_holders_own_card(people, as_user):
    assert as_user(people.manager).get(reverse("portal:card", args=[people.card.pk])).status_code == 404


def test_the_manager_pays_a_staff_order_online(people, as_user, settings):
    settings.CPX_PAYMENT_PROVIDER = "tests.orders.test_online_payment_api.RecordingProvider"
    member = people.staff_member
    order = OrderFactory(
        exercise=None,
        professional=member.professional,
        structure=member.structure,
        card_type=CardType.CPE,
        state=Order.State.AWAITING_PAYMENT,
        fee=Decimal("36.00"),
    )
    response = as_user(people.manager).post(reverse("portal:order-pay", args=[order.pk]))
    assert response.status_code == 302 and response["Location"].startswith(
        f"https://pay.example/chk_{order.pk}"
    )
