import pytest

from registry.models import Account
from tests.factories import persona


@pytest.fixture(autouse=True)
def production_calls(monkeypatch):
    """The order ids handed to the stations (``orders.services._schedule_production``): the outside world."""
    calls: list[int] = []
    import orders.services

    monkeypatch.setattr(orders.services, "_schedule_production", lambda order_id: calls.append(order_id))
    return calls


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
