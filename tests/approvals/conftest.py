"""A sample sensitive action registered for the tests, and the people who ask and decide."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from approvals import services as approvals
from core.roles import OPERATORS, role_of
from registry.models import Account, Authority
from tests.factories import persona

SAMPLE = "tests.sample"


@dataclass
class Sample:
    """What the sample action was asked to do: one entry per execution (so a double execution shows)."""

    executed: list[int] = field(default_factory=list)
    fail_with: Exception | None = None

    def execute(self, request: Any) -> dict:
        if self.fail_with is not None:
            raise self.fail_with
        self.executed.append(request.pk)
        return {"done": request.payload.get("what", "")}


@pytest.fixture
def handlers(monkeypatch):
    """The registry of actions, restored after the test (the apps' own registrations stay)."""
    monkeypatch.setattr(approvals, "_handlers", dict(approvals._handlers))
    return approvals._handlers


@pytest.fixture
def sample(handlers):
    """``tests.sample``: operators request and approve it, quorum 1 (``register_sample(quorum=...)``)."""
    state = Sample()

    def register(quorum: int = 1, ttl_hours: int = 48, **overrides: Any) -> Sample:
        callbacks = {
            "may_request": lambda user, payload: role_of(user) in OPERATORS,
            "may_approve": lambda user, request: role_of(user) in OPERATORS,
            "execute": state.execute,
            **overrides,
        }
        approvals.register(SAMPLE, label="Action d'essai", quorum=quorum, ttl_hours=ttl_hours, **callbacks)
        return state

    register()
    state.register = register  # type: ignore[attr-defined]
    return state


@pytest.fixture
def cnom(db):
    return persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")


@pytest.fixture
def cnom2(db):
    return persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")


@pytest.fixture
def cnom3(db):
    return persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")


@pytest.fixture
def oni(db):
    return persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI")


@pytest.fixture
def ans(db):
    return persona(Account.Role.ANS_OPERATOR)


@pytest.fixture
def holder(db):
    return persona(Account.Role.HOLDER)


@pytest.fixture
def cnom_id(db) -> int:
    return Authority.objects.get(code="CNOM").pk


def ask(actor: Any, what: str = "x", **fields: Any) -> Any:
    fields.setdefault("authority_id", actor.account.authority_id)
    return approvals.request(
        action=SAMPLE, actor=actor, payload={"what": what}, summary=f"Essai {what}", **fields
    )
