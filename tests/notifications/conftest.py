import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from notifications.services import BrokerCircuit
from registry.models import Account, Activity, Exercise, Professional, Structure

_numbers = itertools.count(10_000_001)


def make_professional(*, email: str = "", address: bool = True, **fields) -> Professional:
    number = f"{next(_numbers):011d}"
    professional = Professional.objects.create(
        national_id=f"8{number}",
        id_type=Professional.IdType.RPPS,
        rpps=number,
        exercise_civility="Dr",
        last_name=fields.pop("last_name", "Martin"),
        first_name=fields.pop("first_name", "Claire"),
        email=email,
        **fields,
    )
    if address:
        structure = Structure.objects.create(
            technical_id=f"R{number}",
            name="Cabinet du Parc",
            street_number="12",
            street_type="rue",
            street_name="des Lilas",
            postcode="69003",
            commune="Lyon",
        )
        exercise = Exercise.objects.create(professional=professional, profession_id="10")
        Activity.objects.create(
            exercise=exercise, structure=structure, activity_key=f"L|{structure.technical_id}"
        )
    return professional


@pytest.fixture(autouse=True)
def broker_presumed_up():
    """A test that took the broker down must not make the next one skip publishing."""
    BrokerCircuit.down_until = 0.0


@pytest.fixture
def holder(db) -> Professional:
    return make_professional(email="claire.martin@example.fr")


@pytest.fixture
def paper_holder(db) -> Professional:
    """Someone the platform can reach only by post."""
    return make_professional(last_name="Bernard", first_name="Luc")


def client_for(professional: Professional | None, username: str) -> APIClient:
    user = get_user_model().objects.create_user(username=username, password="unused-in-tests")
    if professional is not None:
        Account.objects.create(user=user, role=Account.Role.HOLDER, professional=professional)
    client = APIClient()
    client.force_authenticate(user)
    return client


SAMPLE_CONTEXT = {
    "order_reference": "CMD-2026-000042",
    "card_type": "CPS",
    "authority": "Ordre des médecins",
    "reason": "Inscription au tableau non confirmée",
    "amount": "36.00",
    "payment_url": "https://cpx.example.fr/paiement/42",
    "card_number": "8025000001/0000123456",
    "tracking_reference": "6A12345678901",
    "declared_at": "2026-11-20T10:15:00+01:00",
    "expires_on": "2027-02-24",
    "renewal_url": "https://cpx.example.fr/renouveler/abc",
    "expired_on": "2026-11-01",
    "reference": "RC-20261120-000042",
    "given_at": "2026-11-20T10:15:00+01:00",
    "profession": "Médecin",
    "revoked_at": "2026-11-20T10:15:00+01:00",
    "explanation": "Créée automatiquement : inscrit le 30/11/2026 auprès de l'Ordre des médecins.",
    "order_url": "https://cpx.example.fr/orders/42/",
}


@contextmanager
def broker(url: str) -> Iterator[None]:
    """Point this process's Celery producer at another broker (the app caches its connection pools; the
    CELERY_BROKER_URL environment variable, when set, wins over the app's setting)."""
    from config.celery import app

    original, original_env = app.conf.broker_url, os.environ.get("CELERY_BROKER_URL")

    def reset(to: str) -> None:
        app.conf.broker_url = to
        if original_env is not None:
            os.environ["CELERY_BROKER_URL"] = to
        app._pool = None
        app.amqp._producer_pool = None
        BrokerCircuit.down_until = 0.0

    reset(url)
    try:
        yield
    finally:
        reset(original)
