"""The CA's audit trail: one row per use of a CA or responder key, or per refusal to use one.

Written by the operation itself, inside its transaction, so an effect never exists without its row.
"""

from __future__ import annotations

import uuid
from typing import Any

from .models import AuditEvent, CertificateAuthority


def record(
    operation: str,
    *,
    actor: str,
    authority: CertificateAuthority | None = None,
    serials: list[str] | None = None,
    request_id: uuid.UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        operation=operation,
        actor=actor[:200],
        authority=authority,
        serials=serials or [],
        request_id=request_id,
        detail=detail or {},
    )
