"""Who sees what: one persona per role, and 404 (not 403) outside one's scope."""

import pytest

from cards.scoping import cards_visible_to
from orders import services
from orders.errors import NotPermitted, OrderNotFound
from orders.scoping import orders_visible_to
from registry.models import Account
from registry.scoping import professionals_visible_to
from tests.factories import (
    AdeliProfessionalFactory,
    CardFactory,
    ExerciseFactory,
    StructureFactory,
    StructureMemberFactory,
    UserFactory,
    persona,
    profession,
)

from .helpers import doctor_order, structure_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """Orders of a CNOM doctor, an ONI nurse, an ADELI audioprothésiste (ANS) and a structure (ANS)."""
    nurse = ExerciseFactory(profession=profession("60"))
    adeli = ExerciseFactory(professional=AdeliProfessionalFactory(), profession=profession("26"))
    return {
        "cnom": doctor_order("submitted"),
        "oni": doctor_order(
            "submitted",
            exercise=nurse,
            professional=nurse.professional,
            replaces=None,
            kind="first",
            replacement_reason="",
        ),
        "ans": doctor_order(
            "submitted",
            exercise=adeli,
            professional=adeli.professional,
            replaces=None,
            kind="first",
            replacement_reason="",
        ),
        "structure": structure_order("submitted"),
    }


def visible(user, world):
    ids = set(orders_visible_to(user).values_list("pk", flat=True))
    return {name for name, order in world.items() if order.pk in ids}


def test_routing_of_the_world(world):
    assert {k: o.authority.code for k, o in world.items()} == {
        "cnom": "CNOM",
        "oni": "ONI",
        "ans": "ANS",
        "structure": "ANS",
    }


def test_a_holder_sees_only_their_own_orders(world):
    assert visible(persona("holder", professional=world["cnom"].professional), world) == {"cnom"}


def test_a_structure_manager_sees_their_structures_orders(world):
    assert visible(persona("structure_manager", structure=world["structure"].structure), world) == {
        "structure"
    }
    assert visible(persona("structure_manager", structure=StructureFactory()), world) == set()


def test_an_ordre_operator_sees_only_their_ordres_orders(world):
    assert visible(persona("authority_operator", authority="CNOM"), world) == {"cnom"}
    assert visible(persona("authority_operator", authority="ONI"), world) == {"oni"}


def test_an_ans_operator_sees_ans_orders(world):
    assert visible(persona("ans_operator"), world) == {"ans", "structure"}


def test_auditors_and_the_system_see_everything(world):
    assert visible(persona("auditor"), world) == set(world)
    assert visible(persona("system"), world) == set(world)


def test_a_user_without_account_sees_nothing(world):
    user = UserFactory()
    assert visible(user, world) == set()
    assert not professionals_visible_to(user).exists()
    assert not cards_visible_to(user).exists()


def test_an_ordre_operator_cannot_act_on_another_ordres_order(world):
    oni = persona("authority_operator", authority="ONI")
    with pytest.raises(OrderNotFound):
        services.order_approve(order=world["cnom"], actor=oni)
    with pytest.raises(OrderNotFound):
        services.order_reject(order=world["cnom"], actor=oni, reason="x")


def test_an_auditor_sees_but_may_not_act(world):
    with pytest.raises(NotPermitted):
        services.order_approve(order=world["cnom"], actor=persona("auditor"))


def test_people_and_cards_follow_the_same_scopes():
    doctor = ExerciseFactory()
    nurse = ExerciseFactory(profession=profession("60"))
    adeli = ExerciseFactory(professional=AdeliProfessionalFactory(), profession=profession("10"))
    member = StructureMemberFactory()
    cards = {
        n: CardFactory(exercise=e) for n, e in {"doctor": doctor, "nurse": nurse, "adeli": adeli}.items()
    }
    cnom = persona("authority_operator", authority="CNOM")
    assert set(professionals_visible_to(cnom)) >= {doctor.professional, adeli.professional}
    assert nurse.professional not in professionals_visible_to(cnom)
    assert set(cards_visible_to(cnom)) == {cards["doctor"]}
    ans = persona("ans_operator")
    assert set(cards_visible_to(ans)) == {cards["adeli"]}
    assert member.professional in professionals_visible_to(ans)
    manager = persona("structure_manager", structure=member.structure)
    assert list(professionals_visible_to(manager)) == [member.professional]
    holder = persona("holder", professional=doctor.professional)
    assert list(cards_visible_to(holder)) == [cards["doctor"]]
    assert isinstance(Account.Role.HOLDER.value, str)
