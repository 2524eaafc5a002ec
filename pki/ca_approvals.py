"""The CA operations that need a second person's approval (``approvals``): rolling the OCSP responder key
(``manage.py pki_ocsp_roll``) and signing the root's CRL (``manage.py pki_root crl``).

Both are commands an operator runs with the tokens' PINs; each asks for an approval first and runs only
with ``--approval ID`` of a request of that operation another ANS operator approved (see
``approvals.commands``). The first ceremony (``pki_init``) is not guarded: it runs before any operator
account exists, and is idempotent. The platform has no command that revokes a CA.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from approvals import services as approvals
from core.roles import Role, role_of

OCSP_ROLL = "pki.ocsp_roll"
ROOT_CRL = "pki.root_crl"
OBJECT_TYPE = "pki_operation"
OPERATIONS = {
    OCSP_ROLL: _("Renewal of the OCSP responder key"),
    ROOT_CRL: _("Signature of the root authority's CRL"),
}


def _ans_operator(user: Any, *_: Any) -> bool:
    """The CA is ANS's: its operators ask and approve (the requester never approves: approvals)."""
    return role_of(user) == Role.ANS_OPERATOR


def register() -> None:
    """Called from ``PkiConfig.ready()``."""
    for action, label in OPERATIONS.items():
        approvals.register(
            action,
            label=str(label),
            may_request=_ans_operator,
            may_approve=_ans_operator,
            execute=approvals.grant,
            ttl_hours=24,
        )


def target(action: str) -> dict[str, str]:
    """What an approval of ``action`` is for (one request of each operation waits at a time)."""
    return {"action": action, "object_type": OBJECT_TYPE, "object_id": action}
