"""The card state machine: every (state, transition, role) triple, allowed or forbidden, through the card
services (``cards.services``, the one place that fires it).

The expected answers are written out here, independently of ``cards.permissions`` and the model: a role
that may not fire a transition is refused whatever the state (NotPermitted), one that may is refused by a
state that does not allow it (InvalidCardState), and only then does the card move, with its event row.
"""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from cards import services as card_services
from cards.errors import InvalidCardState
from cards.models import Card, CardEvent
from core.errors import NotPermitted
from core.roles import Role
from tests.factories import CardFactory, persona

S = Card.State
LIVE = {S.PERSONALIZED, S.SHIPPED, S.ACTIVE}
SOURCES = {
    "ship": {S.PERSONALIZED},
    "activate": {S.SHIPPED},  # a card never shipped has no delivery to confirm
    "oppose": LIVE,
    "revoke": LIVE,
    "expire": {S.SHIPPED, S.ACTIVE},
}
TARGET = {
    "ship": S.SHIPPED,
    "activate": S.ACTIVE,
    "oppose": S.OPPOSED,
    "revoke": S.REVOKED,
    "expire": S.EXPIRED,
}
DECLARERS = {"holder", "structure_manager", "authority_operator", "ans_operator", "system"}
MAY = {
    "ship": {"ans_operator", "system"},
    "activate": {"holder", "structure_manager"},  # who holds the card: never the platform on its own
    "oppose": DECLARERS,
    "revoke": DECLARERS,
    "expire": {"system"},
}
SERVICES: dict[str, Callable[..., Any]] = {
    "ship": card_services.card_ship,
    "activate": card_services.card_activate,
    "oppose": card_services.card_oppose,
    "revoke": card_services.card_revoke,
    "expire": card_services.card_expire,
}
ROLES = [role.value for role in Role]
CASES = [(state, name, role) for state in S.values for name in SOURCES for role in ROLES]


def expected(state: str, name: str, role: str) -> object:
    if role not in MAY[name]:
        return NotPermitted
    if state not in SOURCES[name]:
        return InvalidCardState
    return TARGET[name]


def fire(name: str, card: Card, actor) -> None:
    arguments = {"crl_reason": "keyCompromise"} if name in ("oppose", "revoke") else {}
    with transaction.atomic():
        SERVICES[name](card=card_services.card_lock(card), actor=actor, **arguments)


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "name", "role"), CASES)
def test_transition_by_role_from_state(state, name, role):
    card = CardFactory(state=state)
    actor = persona(role)
    outcome = expected(state, name, role)
    if isinstance(outcome, type):
        with pytest.raises(outcome):
            fire(name, card, actor)
        assert Card.objects.get(pk=card.pk).state == state
        assert not CardEvent.objects.filter(card=card).exists()
    else:
        fire(name, card, actor)
        assert Card.objects.get(pk=card.pk).state == outcome
        event = CardEvent.objects.get(card=card)
        assert event.kind == outcome
        assert (event.detail["from"], event.detail["actor_id"], event.detail["actor_role"]) == (
            state,
            actor.pk,
            role,
        )


def test_every_transition_of_the_machine_is_in_the_table():
    field = Card._meta.get_field("state")
    transitions = list(field.get_all_transitions(Card))
    assert {t.name for t in transitions} == set(SOURCES)
    for transition in transitions:
        assert transition.source in SOURCES[transition.name]
        assert transition.target == TARGET[transition.name]


def test_a_refusal_answers_like_the_card_endpoints_always_did():
    refused = InvalidCardState(transition="activate", state="personalized", allowed=["ship"])
    assert (refused.status, refused.body()["code"]) == (409, "invalid_state")
    assert set(refused.body()) == {"code", "message"}


@pytest.mark.django_db(transaction=True)  # a real autocommit connection, as outside any use case
def test_a_state_change_needs_the_lock_of_its_transaction():
    card = CardFactory(state=S.PERSONALIZED)
    with pytest.raises(RuntimeError):
        card_services.card_ship(card=card, actor=persona(Role.ANS_OPERATOR))
    assert Card.objects.get(pk=card.pk).state == S.PERSONALIZED
