"""Approvers deciding at the same moment, on the real PostgreSQL: the action is executed once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from approvals import errors
from approvals import services as approvals
from approvals.models import ApprovalDecision, ApprovalRequest
from registry.models import Account
from tests.factories import persona

from .conftest import ask

pytestmark = pytest.mark.django_db(transaction=True)


def _decide_together(request: ApprovalRequest, approvers: list[Any]) -> list[str]:
    barrier = threading.Barrier(len(approvers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def decide(actor: Any) -> None:
        try:
            barrier.wait()
            outcome = approvals.decide(request_id=request.pk, actor=actor, approve=True).state
        except (errors.NotPending, errors.AlreadyDecided) as exc:
            outcome = exc.code
        except Exception as exc:  # anything else fails the test
            outcome = repr(exc)
        finally:
            connection.close()  # each thread has its own connection
        with lock:
            outcomes.append(str(outcome))

    threads = [threading.Thread(target=decide, args=(approver,)) for approver in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def _slow(sample, seconds: float):
    """The action takes a while, so the other approver's transaction surely arrives while it runs."""
    import time

    execute = sample.execute

    def slow_execute(request):
        time.sleep(seconds)
        return execute(request)

    return slow_execute


def test_two_approvers_at_once_execute_the_action_once(sample, cnom):
    sample.register(execute=_slow(sample, 0.3))
    request = ask(cnom)
    approvers = [persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM") for _ in range(2)]
    assert _decide_together(request, approvers) == ["executed", "not_pending"]
    assert sample.executed == [request.pk]
    request.refresh_from_db()
    assert request.state == ApprovalRequest.State.EXECUTED
    assert ApprovalDecision.objects.filter(request=request).count() == 1


def test_the_last_two_of_a_quorum_at_once_execute_the_action_once(sample, cnom):
    sample.register(quorum=2, execute=_slow(sample, 0.3))
    request = ask(cnom)
    approvers = [persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM") for _ in range(3)]
    outcomes = _decide_together(request, approvers)
    # Serialized by the row lock: one waits for a second approval, one reaches the quorum, the third is late.
    assert outcomes == ["executed", "not_pending", "pending"]
    assert sample.executed == [request.pk]
    assert ApprovalDecision.objects.filter(request=request).count() == 2
