"""e-CPS of holders struck off, revoked at the import's commit (issue 16), not by a later batch.

The receiver of ``registry.signals.extraction_merged`` runs, in the import's transaction, the same
set-based revocation the periodic safety net runs (``services.ecps_revoke_for_inactive_holders``: the
holders the registry marks inactive, and the exercises it no longer lists), after a ``--full`` import
(the only one that strikes anyone off). Its effects (the holders told, their tokens revoked, the relying
parties' webhooks) commit with the registry's data, or roll back with a refused import.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from registry.signals import extraction_merged

from . import services


@receiver(extraction_merged, dispatch_uid="ecps.struck_off")
def ecps_struck_off_at_commit(sender: Any, cursor: Any, full: bool, **kwargs: Any) -> None:
    if full:
        services.ecps_revoke_for_inactive_holders()
