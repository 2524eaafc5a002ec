"""``orders.eligibility.first_cards_for``: each exercise with the first cards it may be ordered and why
not; what it promises is what submission accepts (the same rules)."""

from __future__ import annotations

import pytest

from orders import eligibility
from orders import services as order_services
from orders.errors import NotEligible
from orders.models import Order
from registry.models import Account
from tests.factories import (
    AdeliProfessionalFactory,
    CardFactory,
    ExerciseFactory,
    OrderFactory,
    ProfessionalFactory,
    StudentExerciseFactory,
    persona,
)

pytestmark = pytest.mark.django_db


def of(exercise) -> eligibility.ExerciseEligibility:
    [found] = [e for e in eligibility.first_cards_for(exercise.professional) if e.exercise == exercise]
    return found


def codes(found: eligibility.ExerciseEligibility) -> list[str]:
    return [reason.code for reason in found.reasons]


def test_a_practitioner_may_order_a_cps_and_a_student_a_cpf():
    assert of(ExerciseFactory(profession_id="10")).card_types == ("CPS",)
    assert of(StudentExerciseFactory(profession_id="10")).card_types == ("CPF",)


def test_the_reviewing_authority_is_the_ordre_for_rpps_and_ans_otherwise():
    assert of(ExerciseFactory(profession_id="10")).authority.code == "CNOM"
    assert (
        of(ExerciseFactory(profession_id="91", professional=AdeliProfessionalFactory())).authority.code
        == "ANS"
    )


def test_an_exercise_with_a_live_card_may_not_have_a_first_card_and_says_why():
    exercise = ExerciseFactory(profession_id="10")
    CardFactory(exercise=exercise)
    found = of(exercise)
    assert (found.eligible, codes(found)) == (False, ["live_card_exists"])


def test_an_order_under_way_blocks_a_second_one():
    exercise = ExerciseFactory(profession_id="10")
    OrderFactory(exercise=exercise, state=Order.State.APPROVED)
    assert codes(of(exercise)) == ["open_order_exists"]


def test_a_draft_or_a_rejected_order_blocks_nothing():
    exercise = ExerciseFactory(profession_id="10")
    OrderFactory(exercise=exercise, state=Order.State.DRAFT)
    OrderFactory(exercise=exercise, state=Order.State.REJECTED)
    assert of(exercise).card_types == ("CPS",)


def test_an_inactive_exercise_is_listed_last_with_its_reason():
    professional = ProfessionalFactory()
    inactive = ExerciseFactory(professional=professional, profession_id="10", is_active=False)
    active = ExerciseFactory(professional=professional, profession_id="60")
    found = eligibility.first_cards_for(professional)
    assert [e.exercise for e in found] == [active, inactive]
    assert "exercise_inactive" in codes(found[1]) and not found[1].eligible


def test_each_exercise_gets_the_reasons_of_its_own_card_type():
    exercise = StudentExerciseFactory(profession_id="10")
    CardFactory(exercise=exercise, card_type="CPF")
    assert codes(of(exercise)) == ["live_card_exists"]  # not "students are issued a CPF"


@pytest.mark.parametrize("with_card", [False, True])
def test_what_is_offered_is_what_submission_accepts(with_card):
    exercise = ExerciseFactory(profession_id="10")
    if with_card:
        CardFactory(exercise=exercise)
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    found = of(exercise)
    for card_type in ("CPS", "CPF"):
        fields = {"professional": exercise.professional, "card_type": card_type, "exercise": exercise}
        if card_type in found.card_types:
            assert (
                order_services.order_place(actor=holder, kind="first", **fields).state
                == Order.State.SUBMITTED
            )
        else:
            with pytest.raises(NotEligible):
                order_services.order_place(actor=holder, kind="first", **fields)
