import pytest

from registry.models import Account
from tests.factories import persona


@pytest.fixture(autouse=True)
def production_calls(monkeypatch):
    """The order ids handed to issuance.production_schedule (the stations are the outside world here)."""
    calls: list[int] = []
    import issuance.services

    monkeypatch.setattr(issuance.services, "production_schedule", lambda *, order_id: calls.append(order_id))
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
