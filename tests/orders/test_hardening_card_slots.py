"""One active card per slot, guaranteed by the database (cards migration 0005): checked at commit, since an
activation makes the new card active before it revokes the card it supersedes (issue 15)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from cards import services as card_services
from cards.errors import CardSlotTaken
from cards.models import Card
from orders.services import system_user
from registry.models import Account, CardType
from tests.factories import CardFactory, ExerciseFactory, StaffFactory, StructureFactory, persona

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_second_active_card_of_one_exercise_is_never_committed():
    exercise = ExerciseFactory()
    CardFactory(exercise=exercise, state=Card.State.ACTIVE)
    shipped = CardFactory(exercise=exercise, state=Card.State.SHIPPED)
    with pytest.raises(IntegrityError, match="second active card"), transaction.atomic():
        Card.objects.filter(pk=shipped.pk).update(state=Card.State.ACTIVE)  # even behind the services' back
    assert Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED


def test_two_active_cards_of_one_structure_slot_are_never_committed():
    staff, structure = StaffFactory(), StructureFactory()
    slot = {"exercise": None, "professional": staff, "structure": structure, "card_type": CardType.CPE}
    CardFactory(**slot, state=Card.State.ACTIVE)
    CardFactory(**{**slot, "card_type": CardType.CPA}, state=Card.State.ACTIVE)  # another slot
    shipped = CardFactory(**slot, state=Card.State.SHIPPED)
    holder = persona(Account.Role.HOLDER, professional=staff)
    with pytest.raises(IntegrityError), transaction.atomic():
        card_services.card_activate(card=card_services.card_lock(shipped), actor=holder)
    assert Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED


def test_a_renewal_activates_the_new_card_then_revokes_the_old_one_in_one_transaction():
    exercise = ExerciseFactory()
    old = CardFactory(exercise=exercise, state=Card.State.ACTIVE)
    new = CardFactory(exercise=exercise, state=Card.State.SHIPPED)  # two live cards: normal until activation
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    with transaction.atomic():
        card_services.card_activate(card=card_services.card_lock(new), actor=holder)
        card_services.card_revoke(
            card=card_services.card_lock(old), actor=system_user(), crl_reason="superseded"
        )
        card_services.card_slot_settle()
    assert Card.objects.get(pk=new.pk).state == Card.State.ACTIVE
    assert Card.objects.get(pk=old.pk).state == Card.State.REVOKED


def test_the_check_made_early_is_a_clean_conflict():
    exercise = ExerciseFactory()
    CardFactory(exercise=exercise, state=Card.State.ACTIVE)
    shipped = CardFactory(exercise=exercise, state=Card.State.SHIPPED)
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    with pytest.raises(CardSlotTaken) as caught, transaction.atomic():
        card_services.card_activate(card=card_services.card_lock(shipped), actor=holder)
        card_services.card_slot_settle()
    assert (caught.value.status, caught.value.code) == (409, "card_slot_taken")
    assert Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED
