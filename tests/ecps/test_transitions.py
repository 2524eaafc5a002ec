"""Who may fire each e-CPS transition, from which state: every (state, transition, role), through the
services, and the machine's own answer for every (transition, role).

The expected answers are written out here, independently of ``ecps.permissions`` and the model.
"""

from __future__ import annotations

from typing import Any

import pytest

from core import transitions
from core.errors import NotFound, NotPermitted
from core.roles import Role
from ecps import errors, services
from ecps.models import ECps, ECpsEvent
from tests.factories import AdeliProfessionalFactory, ExerciseFactory, persona

from .helpers import ecps_row, rpps_doctor

pytestmark = pytest.mark.django_db

S = ECps.State
ROLES = [r.value for r in Role]
SOURCES = {"suspend": {S.ACTIVE}, "reinstate": {S.SUSPENDED}, "revoke": {S.ACTIVE, S.SUSPENDED}}
TARGET = {"suspend": S.SUSPENDED, "reinstate": S.ACTIVE, "revoke": S.REVOKED}
MAY = {
    "suspend": {"holder"},
    "reinstate": {"holder"},
    "revoke": {"holder", "authority_operator", "ans_operator", "system"},
}
FIRE = {
    "suspend": lambda ecps, actor: services.ecps_suspend(ecps=ecps, actor=actor),
    "reinstate": lambda ecps, actor: services.ecps_reinstate(ecps=ecps, actor=actor),
    "revoke": lambda ecps, actor: services.ecps_declare_opposition(ecps=ecps, actor=actor, reason="stolen"),
}
CASES = [(state, name, role) for state in S.values for name in SOURCES for role in ROLES]


def ecps_and_actor(role: str, state: str) -> tuple[ECps, Any]:
    """An e-CPS in ``state`` and a persona of ``role`` (the holder: its own; ANS sees the ADELI
    professions', an Ordre its RPPS ones; a structure manager sees no e-CPS, which is personal)."""
    exercise: Any
    if role == Role.ANS_OPERATOR:
        exercise = ExerciseFactory(professional=AdeliProfessionalFactory(), profession_id="28")
    else:
        exercise = rpps_doctor()
    links = {"professional": exercise.professional} if role == Role.HOLDER else {}
    return ecps_row(exercise, state), persona(role, **links)


def expected(state: str, name: str, role: str) -> Any:
    if role == Role.STRUCTURE_MANAGER:
        return NotFound
    if role not in MAY[name]:
        return NotPermitted
    if state not in SOURCES[name]:
        return errors.AlreadyRevoked if name == "revoke" else errors.InvalidTransition
    return TARGET[name]


@pytest.mark.parametrize(("state", "name", "role"), CASES)
def test_transition_by_role_from_state(state, name, role):
    ecps, actor = ecps_and_actor(role, state)
    outcome = expected(state, name, role)
    if isinstance(outcome, type):
        with pytest.raises(outcome) as refused:
            FIRE[name](ecps, actor)
        assert type(refused.value) is outcome
        ecps.refresh_from_db()
        assert ecps.state == state and not ECpsEvent.objects.filter(ecps=ecps).exists()
        return
    FIRE[name](ecps, actor)
    ecps.refresh_from_db()
    assert ecps.state == outcome
    event = ECpsEvent.objects.get(ecps=ecps)
    assert event.kind == outcome and event.detail["from"] == state and event.detail["actor_id"] == actor.pk
    if name == "revoke":
        assert ecps.revocation_reason == "stolen" and ecps.revoked_at is not None
        assert event.detail["reason"] == "stolen" and event.detail["actor_role"] == role


@pytest.mark.parametrize(("name", "role"), [(name, role) for name in MAY for role in ROLES])
def test_the_machine_itself_says_who_may_fire_each_transition(name, role):
    ecps = ecps_row(rpps_doctor())
    assert transitions.may_fire(ecps, name, persona(role)) is (role in MAY[name])
    assert not transitions.may_fire(ecps, name, None)  # nobody signed in


def test_the_machine_names_the_transitions_the_table_covers():
    assert transitions.transition_names(ECps) == set(MAY) == set(SOURCES)


def test_a_state_that_does_not_allow_it_answers_409_with_the_allowed_transitions(doctor, doctor_user):
    ecps = ecps_row(doctor, S.SUSPENDED)
    with pytest.raises(errors.InvalidTransition) as refused:
        services.ecps_suspend(ecps=ecps, actor=doctor_user)
    assert refused.value.status == 409 and refused.value.code == "invalid_state"
    assert refused.value.body()["allowed_transitions"] == ["reinstate", "revoke"]
