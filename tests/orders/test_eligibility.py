"""Eligibility rules, each with its own code, checked at submission and again at approval."""

import datetime

import pytest
from django.utils import timezone

from cards.models import Card
from orders import services
from orders.errors import NotEligible
from orders.models import Order
from registry.models import StructureMember
from tests.factories import (
    CardFactory,
    ExerciseFactory,
    ProfessionalFactory,
    StaffFactory,
    StructureFactory,
    StructureMemberFactory,
    StudentExerciseFactory,
    persona,
)

from .helpers import doctor_order

pytestmark = pytest.mark.django_db


def reasons_at_submission(order):
    holder = persona("system")
    with pytest.raises(NotEligible) as caught:
        services.order_submit(order=order, actor=holder)
    return {r.code for r in caught.value.reasons}


def first(state="draft", **kwargs):
    return doctor_order(state, kind="first", replacement_reason="", replaces=None, **kwargs)


def test_an_inactive_holder_or_exercise_is_refused():
    order = first()
    order.professional.is_active = False
    order.professional.save()
    order.exercise.is_active = False
    order.exercise.save()
    assert reasons_at_submission(order) == {"holder_inactive", "exercise_inactive"}


def test_a_cpf_is_for_students_and_a_cps_is_not():
    student = StudentExerciseFactory()
    assert reasons_at_submission(first(exercise=student, professional=student.professional)) == {
        "cps_not_for_students"
    }
    assert reasons_at_submission(first(card_type="CPF")) == {"cpf_requires_student"}
    cpf = first(exercise=student, professional=student.professional, card_type="CPF")
    assert services.order_submit(order=cpf, actor=persona("system")).state == "submitted"


def test_a_cps_needs_a_registered_professional():
    exercise = ExerciseFactory(professional=StaffFactory())
    assert reasons_at_submission(first(exercise=exercise, professional=exercise.professional)) == {
        "cps_requires_registration"
    }


@pytest.mark.parametrize(
    ("card_type", "role", "needed"),
    [
        ("CPE", StructureMember.Role.AUTHORISED, "cpe_requires_staff"),
        ("CPA", StructureMember.Role.STAFF, "cpa_requires_authorised"),
        ("CDE", StructureMember.Role.STAFF, "cde_requires_legal_representative"),
    ],
)
def test_structure_cards_need_the_matching_membership(card_type, role, needed):
    member = StructureMemberFactory(role=role)
    order = first(
        exercise=None, professional=member.professional, structure=member.structure, card_type=card_type
    )
    assert reasons_at_submission(order) == {needed}


def test_a_structure_membership_elsewhere_does_not_count():
    member = StructureMemberFactory(role=StructureMember.Role.STAFF)
    order = first(
        exercise=None, professional=member.professional, structure=StructureFactory(), card_type="CPE"
    )
    assert reasons_at_submission(order) == {"cpe_requires_staff"}


def test_no_second_live_card_nor_second_open_order_for_an_exercise():
    order = first()
    CardFactory(exercise=order.exercise, state=Card.State.SHIPPED)
    assert reasons_at_submission(order) == {"live_card_exists"}
    other = first()
    first(exercise=other.exercise, professional=other.professional, state="approved")
    assert reasons_at_submission(other) == {"open_order_exists"}


def test_an_expired_or_opposed_card_does_not_block_a_first_order():
    order = first()
    CardFactory(exercise=order.exercise, state=Card.State.EXPIRED)
    CardFactory(exercise=order.exercise, state=Card.State.OPPOSED)
    assert services.order_submit(order=order, actor=persona("system")).state == "submitted"


def test_renewal_only_within_the_window(settings):
    settings.CPX_RENEWAL_WINDOW_DAYS = 180
    today = timezone.localdate()
    exercise = ExerciseFactory()
    card = CardFactory(exercise=exercise, valid_until=today + datetime.timedelta(days=400))
    order = doctor_order("draft", exercise=exercise, kind="renewal", replacement_reason="", replaces=card)
    assert reasons_at_submission(order) == {"renewal_too_early"}
    Card.objects.filter(pk=card.pk).update(valid_until=today + datetime.timedelta(days=100))
    assert services.order_submit(order=order, actor=persona("system")).state == "submitted"


def test_renewal_needs_a_live_card():
    exercise = ExerciseFactory()
    card = CardFactory(exercise=exercise, state=Card.State.REVOKED)
    order = doctor_order("draft", exercise=exercise, kind="renewal", replacement_reason="", replaces=card)
    assert reasons_at_submission(order) == {"renewal_without_card"}


def test_renewal_created_without_a_card_takes_the_live_one():
    exercise = ExerciseFactory()
    card = CardFactory(exercise=exercise, valid_until=timezone.localdate() + datetime.timedelta(days=30))
    order = services.order_create(
        actor=persona("holder", professional=exercise.professional),
        professional=exercise.professional,
        exercise=exercise,
        card_type="CPS",
        kind="renewal",
    )
    assert order.replaces == card


def test_replacement_only_for_the_holders_own_card_of_the_same_exercise():
    order = doctor_order("draft")
    order.replaces = CardFactory(state=Card.State.OPPOSED)  # someone else's
    order.save()
    assert reasons_at_submission(order) == {"replaced_card_not_holders"}
    other_exercise = ExerciseFactory(professional=order.professional, profession_id="21")
    order.replaces = CardFactory(exercise=other_exercise, state=Card.State.OPPOSED)
    order.save()
    assert reasons_at_submission(order) == {"replaced_card_mismatch"}
    order.replaces = CardFactory(exercise=order.exercise, state=Card.State.EXPIRED)
    order.save()
    assert reasons_at_submission(order) == {"replaced_card_not_replaceable"}


def test_eligibility_is_checked_again_at_approval(cnom):
    order = doctor_order("draft", kind="first", replacement_reason="", replaces=None)
    services.order_submit(order=order, actor=persona("system"))
    order.professional.is_active = False
    order.professional.save()
    with pytest.raises(NotEligible) as caught:
        services.order_approve(order=order, actor=cnom)
    assert [r.code for r in caught.value.reasons] == ["holder_inactive"]
    order.refresh_from_db()
    assert order.state == "submitted"


def test_the_authority_follows_the_adeli_to_rpps_switch(cnom):
    """Ordered as ADELI (ANS), approved after the switch: the order moves to the Ordre's queue."""
    person = ProfessionalFactory(rpps=None, adeli="016041030", national_id="0016041030", id_type="0")
    exercise = ExerciseFactory(professional=person)
    order = services.order_create(
        actor=persona("holder", professional=person),
        professional=person,
        exercise=exercise,
        card_type="CPS",
        kind="first",
    )
    assert order.authority.code == "ANS"
    services.order_submit(order=order, actor=persona("system"))
    person.rpps = "10107518424"
    person.save()
    ans = persona("ans_operator")
    from orders.errors import OrderRerouted

    with pytest.raises(OrderRerouted):
        services.order_approve(order=order, actor=ans)
    order.refresh_from_db()
    assert order.authority.code == "CNOM"
    assert order.events.filter(transition="reroute").exists()
    assert services.order_approve(order=order, actor=cnom).state == "queued"


def produced_order_with_card(exercise, card_state=Card.State.SHIPPED):
    """An order ``produced`` (final: the card took over) with its card, in transit by default."""
    card = CardFactory(exercise=exercise, state=card_state)
    order = first("produced", exercise=exercise, professional=exercise.professional, produced_card=card)
    return order, card


def test_a_card_never_received_is_replaced_despite_its_own_order():
    exercise = ExerciseFactory()
    _order, card = produced_order_with_card(exercise)
    Card.objects.filter(pk=card.pk).update(state=Card.State.OPPOSED)
    replacement = doctor_order("draft", exercise=exercise, replaces=card, replacement_reason="not_received")
    assert services.order_submit(order=replacement, actor=persona("system")).state == "submitted"


def test_a_card_in_transit_still_blocks_another_order_for_its_exercise():
    exercise = ExerciseFactory()
    _order, in_transit = produced_order_with_card(exercise)
    old = CardFactory(exercise=exercise, state=Card.State.OPPOSED)
    replacement = doctor_order("draft", exercise=exercise, replaces=old)
    assert reasons_at_submission(replacement) == {"open_order_exists"}
    Card.objects.filter(pk=in_transit.pk).update(state=Card.State.OPPOSED)  # lost on its way
    assert services.order_submit(order=replacement, actor=persona("system")).state == "submitted"


def test_the_renewal_of_a_card_in_transit_is_not_blocked_by_the_order_that_made_it(settings):
    exercise = ExerciseFactory()
    _order, card = produced_order_with_card(exercise)
    Card.objects.filter(pk=card.pk).update(valid_until=timezone.localdate() + datetime.timedelta(days=30))
    renewal = doctor_order("draft", exercise=exercise, kind="renewal", replacement_reason="", replaces=card)
    assert services.order_submit(order=renewal, actor=persona("system")).state == "submitted"


@pytest.mark.parametrize("card_state", [Card.State.PERSONALIZED, Card.State.SHIPPED])
def test_a_produced_order_whose_card_is_on_its_way_is_under_way(card_state):
    exercise = ExerciseFactory()
    produced_order_with_card(exercise, card_state)
    old = CardFactory(exercise=exercise, state=Card.State.OPPOSED)
    replacement = doctor_order("draft", exercise=exercise, replaces=old)
    assert reasons_at_submission(replacement) == {"open_order_exists"}


def test_a_produced_order_whose_card_arrived_owes_nothing():
    exercise = ExerciseFactory()
    produced_order_with_card(exercise, Card.State.ACTIVE)
    old = CardFactory(exercise=exercise, state=Card.State.OPPOSED)
    replacement = doctor_order("draft", exercise=exercise, replaces=old)
    assert services.order_submit(order=replacement, actor=persona("system")).state == "submitted"


@pytest.mark.parametrize("state", ["draft", "rejected", "cancelled"])
def test_a_draft_a_rejected_or_a_cancelled_order_is_not_under_way(state):
    exercise = ExerciseFactory()
    first(state, exercise=exercise, professional=exercise.professional)
    assert state not in Order.OPEN_STATES
    another = first(exercise=exercise, professional=exercise.professional)
    assert services.order_submit(order=another, actor=persona("system")).state == "submitted"
