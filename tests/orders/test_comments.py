"""Comments on an order: operators of the order's authority write them; the holder reads those shown."""

from __future__ import annotations

import pytest

from core.errors import NotPermitted
from orders.comments import comment_add, comments_visible_to
from orders.errors import InvalidOrder
from registry.models import Account
from tests.factories import ExerciseFactory, OrderFactory, persona

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    return OrderFactory(exercise=ExerciseFactory(profession_id="10"))  # a doctor's: CNOM reviews it


def test_an_operator_of_the_authority_comments_and_the_holder_reads_only_what_is_shown(order):
    cnom = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    holder = persona(Account.Role.HOLDER, professional=order.professional)
    comment_add(order=order, actor=cnom, text="  Diplôme reçu par courrier.  ")
    shown = comment_add(order=order, actor=cnom, text="Votre dossier est complet.", visible_to_holder=True)
    assert [c.text for c in comments_visible_to(order=order, user=cnom)] == [
        "Diplôme reçu par courrier.",
        "Votre dossier est complet.",
    ]
    assert list(comments_visible_to(order=order, user=holder)) == [shown]
    assert comments_visible_to(order=order, user=cnom).first().author_role == Account.Role.AUTHORITY_OPERATOR


def test_another_authority_the_holder_and_the_auditor_may_not_comment(order):
    for actor in (
        persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI"),
        persona(Account.Role.HOLDER, professional=order.professional),
        persona(Account.Role.AUDITOR),
    ):
        with pytest.raises(NotPermitted):
            comment_add(order=order, actor=actor, text="x")
    oni = persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI")
    assert not comments_visible_to(order=order, user=oni).exists()


def test_an_empty_comment_is_refused(order):
    cnom = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    with pytest.raises(InvalidOrder):
        comment_add(order=order, actor=cnom, text="   ")
