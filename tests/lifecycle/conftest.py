import datetime as dt
from typing import cast

import pytest

from cards.models import Card
from orders.models import Order
from pki import services as pki_services
from pki import signing
from pki.models import Certificate
from registry.models import Account
from tests.factories import ActivityFactory, CardFactory, OrderFactory, TariffFactory, persona

# The PKI's own fixtures (a test hierarchy whose CA keys are made once per session).
from tests.pki.conftest import ca_keys, card_key, hierarchy, pem_files, pki_dir  # noqa: F401

# Extraction files written as the registry publishes them (issue 16: the registry drives the cards).
from tests.registry.conftest import write_extraction  # noqa: F401


@pytest.fixture(autouse=True)
def outside_world(monkeypatch) -> list[int]:
    """Messages and production jobs are recorded, never put on the shared broker (the outside world here)."""
    import notifications.services
    import orders.services

    enqueued: list[int] = []
    monkeypatch.setattr(
        notifications.services,
        "notification_enqueue",
        lambda *, notification_ids: enqueued.extend(notification_ids),
    )
    monkeypatch.setattr(orders.services, "_schedule_production", lambda order_id: None)
    return enqueued


@pytest.fixture
def tariff(db):
    return TariffFactory()


@pytest.fixture
def certify(hierarchy, card_key):  # noqa: F811 (fixtures imported above)
    """Issue the authentication and signature certificates of a card (keys made here, not on a card)."""

    def certify(card: Card):
        holder = signing.Holder(
            national_id=card.professional.national_id,
            surname=card.professional.last_name,
            given_name=card.professional.first_name,
            profession="Médecin",
        )
        return [
            pki_services.certificate_issue(
                usage=usage,
                public_key=card_key.public_key(),
                holder=holder,
                valid_until=card.valid_until,
                card_number=card.number,
            )
            for usage in ("auth", "sign")
        ]

    return certify


@pytest.fixture
def certified(certify):
    """Certify a card as personalization does: the certificates issued, then tied to the recorded card."""

    def certified(card: Card):
        issued = certify(card)
        Certificate.objects.filter(pk__in=[c.pk for c in issued]).update(card=card)
        return issued

    return certified


def card_of_an_order(**fields) -> Card:
    """A card of a médecin's exercise (RPPS, reviewed by CNOM) made for a first order: the order is done
    with at ``produced``, whatever happens to the card next."""
    activity = ActivityFactory()
    card = cast(Card, CardFactory(exercise=activity.exercise, **fields))
    OrderFactory(exercise=activity.exercise, state=Order.State.PRODUCED, produced_card=card)
    return card


@pytest.fixture
def card(db, tariff):
    """An active CPS of a médecin with an address, made for an order."""
    return card_of_an_order()


@pytest.fixture
def holder_of(db):
    def holder_of(card: Card):
        return persona(Account.Role.HOLDER, professional=card.professional)

    return holder_of


@pytest.fixture
def cnom(db):
    return persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")


@pytest.fixture
def ans(db):
    return persona(Account.Role.ANS_OPERATOR)


@pytest.fixture
def system(db):
    from orders.services import system_user

    return system_user()


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)
