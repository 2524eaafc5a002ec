"""Personas for the portal's page tests: a holder with a card, another holder, a structure manager with a
staff member, operators of two Ordres, an ANS operator, an auditor, a superuser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from registry.models import Account, StructureMember
from tests.factories import (
    CardFactory,
    ExerciseFactory,
    StaffFactory,
    StructureFactory,
    StructureMemberFactory,
    UserFactory,
    persona,
)


@pytest.fixture(autouse=True)
def outside_world(monkeypatch):
    """Stations and the broker are the outside world: record what would be handed to them."""
    import notifications.services
    import orders.services

    scheduled: list[int] = []
    monkeypatch.setattr(orders.services, "_schedule_production", lambda order_id: scheduled.append(order_id))
    monkeypatch.setattr(notifications.services, "notification_enqueue", lambda *, notification_ids: None)
    return scheduled


@dataclass
class People:
    holder: Any
    card: Any
    other_holder: Any
    other_card: Any
    manager: Any
    staff_member: Any
    cnom: Any
    oni: Any
    ans: Any
    auditor: Any


@pytest.fixture
def people(db) -> People:
    doctor = ExerciseFactory(profession_id="10")  # médecin: CNOM
    nurse = ExerciseFactory(profession_id="60")  # infirmier: ONI
    structure = StructureFactory(name="Centre de santé des Lilas")
    member = StructureMemberFactory(
        structure=structure, professional=StaffFactory(), role=StructureMember.Role.STAFF
    )
    return People(
        holder=persona(Account.Role.HOLDER, professional=doctor.professional),
        card=CardFactory(exercise=doctor),
        other_holder=persona(Account.Role.HOLDER, professional=nurse.professional),
        other_card=CardFactory(exercise=nurse),
        manager=persona(Account.Role.STRUCTURE_MANAGER, structure=structure),
        staff_member=member,
        cnom=persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"),
        oni=persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI"),
        ans=persona(Account.Role.ANS_OPERATOR),
        auditor=persona(Account.Role.AUDITOR),
    )


PASSWORD = "correct-horse-battery"


def with_password(user: Any) -> Any:
    """Personas cannot sign in with a password until they are given one (hashing costs time)."""
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def as_user():
    return client_for


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
