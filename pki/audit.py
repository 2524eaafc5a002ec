"""The CA's audit trail: one row per use of a CA or responder key, or per refusal to use one.

Written by the operation itself, inside its transaction, so an effect never exists without its row. Each
row is also appended to the platform's hash-chained audit log (``audit.log``) under a dotted action name.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from audit import log

from .models import AuditEvent, CertificateAuthority

# The audit log's name of each CA operation.
ACTIONS: dict[str, str] = {
    AuditEvent.Operation.CA_CREATE: "ca.created",
    AuditEvent.Operation.ISSUE: "certificate.issued",
    AuditEvent.Operation.REFUSE: "signing.refused",
    AuditEvent.Operation.REVOKE: "certificate.revoked",
    AuditEvent.Operation.CRL: "crl.published",
    AuditEvent.Operation.DELTA_CRL: "crl.published",
    AuditEvent.Operation.ROOT_CRL: "crl.published",
    AuditEvent.Operation.OCSP_KEY: "ocsp.key_certified",
    AuditEvent.Operation.SIGN_DATA: "card_data.signed",
}
LONGEST_VALUE = 500  # a longer string (a signed holder data, say) goes to the audit log as its SHA-256


def record(
    operation: str,
    *,
    actor: str,
    authority: CertificateAuthority | None = None,
    serials: list[str] | None = None,
    request_id: uuid.UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent.objects.create(
        operation=operation,
        actor=actor[:200],
        authority=authority,
        serials=serials or [],
        request_id=request_id,
        detail=detail or {},
    )
    _chain(event)
    return event


def _chain(event: AuditEvent) -> None:
    serials = list(event.serials)
    slug = event.authority.slug if event.authority is not None else ""
    if len(serials) == 1:
        object_type, object_id = "certificate", serials[0]
    else:
        object_type, object_id = ("certificate_authority", slug) if slug else ("", "")
    log.append(
        ACTIONS.get(event.operation, f"pki.{event.operation}"),
        actor=event.actor,
        object_type=object_type,
        object_id=object_id,
        detail={
            "event": event.pk,
            "operation": event.operation,
            "ca": slug,
            "serials": serials,
            "request_id": str(event.request_id or ""),
            "detail": {key: _short(value) for key, value in event.detail.items()},
        },
    )


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > LONGEST_VALUE:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return value
