"""Granted approvals for the tests of the actions that need one (a forced import, the CA's operations)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from approvals import services as approvals
from approvals.models import ApprovalRequest
from registry.models import Account
from tests.factories import persona


def ans_operators(count: int = 2) -> list[Any]:
    return [persona(Account.Role.ANS_OPERATOR) for _ in range(count)]


def granted(*, action: str, object_type: str, object_id: str, requester: Any = None) -> ApprovalRequest:
    """An approval of ``action`` asked by one ANS operator and approved by another."""
    asker, approver = ans_operators()
    asked = approvals.request(
        action=action,
        actor=requester or asker,
        payload={},
        summary="test",
        object_type=object_type,
        object_id=object_id,
    )
    return approvals.decide(request_id=asked.pk, actor=approver, approve=True)


def forced_import_approval(path: Path) -> int:
    """The number of an approval of a forced full import of the file at ``path``."""
    from registry import forced_import

    return granted(**forced_import.target(path)).pk


def ocsp_roll_approval() -> int:
    from pki import ca_approvals

    return granted(**ca_approvals.target(ca_approvals.OCSP_ROLL)).pk


def root_crl_approval() -> int:
    from pki import ca_approvals

    return granted(**ca_approvals.target(ca_approvals.ROOT_CRL)).pk
