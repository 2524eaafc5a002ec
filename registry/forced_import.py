"""A forced full import needs a second person's approval (``approvals``).

A ``--full`` import that would deactivate more than ``CPX_IMPORT_MAX_DEACTIVATION_SHARE`` of the active
registry is refused, since a truncated file would strike most holders off (and revoke their cards). Forcing
it is the most destructive thing the registry can do, so one ANS operator asks (the command or the API,
for one file: its SHA-256) and another approves; the import then runs with the approval's number, which it
uses once, inside its own transaction (a refused import leaves it unused). Without ``force`` nothing
changes: a full import within the share needs no approval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.utils.translation import gettext_lazy as _

from approvals import services as approvals
from approvals.models import ApprovalRequest
from core.roles import Role, role_of

from .textfile import file_sha256

ACTION = "registry.forced_import"
OBJECT_TYPE = "registry_file"


def _ans_operator(user: Any, *_: Any) -> bool:
    """Registry imports are ANS's: its operators ask and approve (never the requester: approvals)."""
    return role_of(user) == Role.ANS_OPERATOR


def register() -> None:
    """Called from ``RegistryConfig.ready()``."""
    approvals.register(
        ACTION,
        label=_("Forced full import of the registry"),  # lazy: the reader's language
        may_request=_ans_operator,
        may_approve=_ans_operator,
        execute=approvals.grant,
        ttl_hours=24,
    )


def target(path: Path) -> dict[str, str]:
    """What an approval is for: a forced full import of this very file (by its SHA-256)."""
    return {"action": ACTION, "object_type": OBJECT_TYPE, "object_id": file_sha256(path)}


def request_summary(path: Path, digest: str) -> dict[str, Any]:
    return {
        "summary": str(
            _("Forced full import of %(file)s (SHA-256 %(digest)s…) beyond the deactivation threshold")
            % {"file": path.name, "digest": digest[:16]}
        ),
        "payload": {"file_name": path.name, "file_sha256": digest},
    }


def forced_import_request(*, path: Path, actor: Any, file_name: str = "") -> ApprovalRequest:
    """Ask for a forced full import of the file at ``path`` (``file_name``: the name the user gave it)."""
    where = target(path)
    described = request_summary(Path(file_name or path.name), where["object_id"])
    return approvals.request(
        action=ACTION,
        actor=actor,
        payload=described["payload"],
        summary=described["summary"],
        object_type=OBJECT_TYPE,
        object_id=where["object_id"],
    )


def forced_import_check(*, approval_id: int, path: Path) -> ApprovalRequest:
    """The approval is granted for this file and still usable (``ApprovalRequired`` if not); not used yet."""
    return approvals.check_permit(request_id=approval_id, **target(path))


def forced_import_use(*, approval_id: int, path: Path, actor: Any = None) -> ApprovalRequest:
    """Use the approval, once, in the import's transaction."""
    return approvals.consume(request_id=approval_id, actor=actor, **target(path))
