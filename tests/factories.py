"""factory_boy factories shared by every app's tests: the registry, accounts per role, cards and orders.

The code tables (professions, categories, authorities) come from the registry's data migration, so the
factories look them up rather than create them. Personas: ``persona(role, ...)`` returns a user with the
matching ``Account`` (``holder``, ``structure_manager``, ``authority_operator``, ``ans_operator``,
``auditor``, ``system``).
"""

from __future__ import annotations

import datetime
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from cards.models import Card
from orders.models import Order, OrderEvent, Payment, Tariff
from registry.identifiers import luhn_complete
from registry.models import (
    Account,
    Activity,
    Authority,
    CardType,
    Exercise,
    Profession,
    Professional,
    ProfessionalCategory,
    Structure,
    StructureMember,
)
from registry.routing import authority_for_exercise


def authority(code: str) -> Authority:
    return Authority.objects.get(code=code)


def profession(code: str) -> Profession:
    return Profession.objects.get(code=code)


def _rpps(n: int) -> str:
    return luhn_complete(f"1{n:09d}")


def _adeli(n: int) -> str:
    return luhn_complete(f"75{n:06d}")


class ProfessionalFactory(factory.django.DjangoModelFactory):
    """A professional identified by RPPS (use ``AdeliProfessionalFactory`` or ``StaffFactory`` otherwise)."""

    class Meta:
        model = Professional

    rpps = factory.Sequence(_rpps)
    national_id = factory.LazyAttribute(lambda p: f"8{p.rpps}")
    id_type = Professional.IdType.RPPS
    adeli = None
    last_name = factory.Sequence(lambda n: f"NOM{n}")
    first_name = factory.Faker("first_name")
    email = factory.Sequence(lambda n: f"pro{n}@example.test")


class AdeliProfessionalFactory(ProfessionalFactory):
    rpps = None  # type: ignore[assignment]
    adeli = factory.Sequence(_adeli)  # type: ignore[assignment]
    national_id = factory.LazyAttribute(lambda p: f"0{p.adeli}")
    id_type = Professional.IdType.ADELI


class StaffFactory(ProfessionalFactory):
    """A structure's staff member: no RPPS nor ADELI, identified through the structure (``3`` + FINESS)."""

    rpps = None  # type: ignore[assignment]
    national_id = factory.Sequence(lambda n: f"3010780195/{n:06d}")  # type: ignore[assignment]
    id_type = Professional.IdType.FINESS


class ExerciseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exercise

    professional = factory.SubFactory(ProfessionalFactory)
    profession = factory.LazyFunction(lambda: profession("10"))
    category = factory.LazyFunction(lambda: ProfessionalCategory.objects.get(code="C"))


class StudentExerciseFactory(ExerciseFactory):
    category = factory.LazyFunction(lambda: ProfessionalCategory.objects.get(code="E"))


class StructureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Structure

    technical_id = factory.Sequence(lambda n: f"R1010000{n:07d}")
    finess_site = factory.Sequence(lambda n: luhn_complete(f"01{n:06d}"))
    name = factory.Sequence(lambda n: f"Centre de santé {n}")
    postcode = "75015"
    commune = "PARIS"


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    exercise = factory.SubFactory(ExerciseFactory)
    structure = factory.SubFactory(StructureFactory)
    mode_id = "L"
    activity_key = factory.Sequence(lambda n: f"L|activity{n}")


class StructureMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StructureMember

    structure = factory.SubFactory(StructureFactory)
    professional = factory.SubFactory(StaffFactory)
    role = StructureMember.Role.STAFF


class UserFactory(factory.django.DjangoModelFactory):
    """A user who cannot sign in with a password (hashing one costs ~0.3 s; tests authenticate directly).
    Use ``UserWithPasswordFactory`` for sign-in tests (password ``PASSWORD``)."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.LazyFunction(lambda: make_password(None))


PASSWORD = "correct-horse-battery"


class UserWithPasswordFactory(UserFactory):
    password = factory.django.Password(PASSWORD)  # type: ignore[assignment]


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    user = factory.SubFactory(UserFactory)
    role = Account.Role.AUDITOR


def persona(role: str, **links: Any) -> Any:
    """A user with an account of ``role``. ``links``: professional, structure or authority (an object or,
    for authority, an Authority code); sensible defaults are created when a role needs one."""
    if isinstance(links.get("authority"), str):
        links["authority"] = authority(links["authority"])
    if role == Account.Role.HOLDER:
        links.setdefault("professional", ProfessionalFactory())
    elif role == Account.Role.STRUCTURE_MANAGER:
        links.setdefault("structure", StructureFactory())
    elif role == Account.Role.AUTHORITY_OPERATOR:
        links.setdefault("authority", authority("CNOM"))
    elif role == Account.Role.ANS_OPERATOR:
        links.setdefault("authority", authority("ANS"))
    account: Any = AccountFactory(role=role, **links)
    return get_user_model().objects.select_related("account").get(pk=account.user_id)


def card_number(n: int) -> str:
    return f"8025000001{n:010d}"


class CardFactory(factory.django.DjangoModelFactory):
    """A card of an exercise (pass ``state=`` to start elsewhere than ``personalized``)."""

    class Meta:
        model = Card

    number = factory.Sequence(card_number)
    card_type = CardType.CPS
    exercise = factory.SubFactory(ExerciseFactory)
    professional = factory.LazyAttribute(lambda c: c.exercise.professional if c.exercise else StaffFactory())
    structure = None
    state = Card.State.ACTIVE
    valid_from = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=365))
    valid_until = factory.LazyAttribute(lambda c: c.valid_from + datetime.timedelta(days=3 * 365))


class OrderFactory(factory.django.DjangoModelFactory):
    """An order, by default a first CPS in draft. Pass ``state=`` to build one in any state (tests only:
    the application moves orders only through ``orders.services``)."""

    class Meta:
        model = Order

    exercise = factory.SubFactory(ExerciseFactory)
    professional = factory.LazyAttribute(lambda o: o.exercise.professional if o.exercise else StaffFactory())
    structure = None
    card_type = CardType.CPS
    kind = Order.Kind.FIRST
    replacement_reason = ""
    replaces = None
    authority = factory.LazyAttribute(lambda o: authority_for_exercise(o.exercise, o.professional))
    state = Order.State.DRAFT


class StructureOrderFactory(OrderFactory):
    """A CPE for a structure's staff member."""

    exercise = None  # type: ignore[assignment]
    structure = factory.SubFactory(StructureFactory)  # type: ignore[assignment]
    professional = factory.LazyAttribute(
        lambda o: StructureMemberFactory(structure=o.structure, role=StructureMember.Role.STAFF).professional
    )
    card_type = CardType.CPE


class OrderEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderEvent

    order = factory.SubFactory(OrderFactory)
    transition = "create"
    to_state = Order.State.DRAFT


class TariffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tariff
        django_get_or_create = ("valid_from",)

    valid_from = datetime.date(2025, 1, 1)
    amount = "36.00"


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    order = factory.SubFactory(
        OrderFactory, kind=Order.Kind.REPLACEMENT, replacement_reason="lost", fee="36.00"
    )
    amount = "36.00"
    method = Payment.Method.TRANSFER
    reference = factory.Sequence(lambda n: f"VIR-{n:06d}")
