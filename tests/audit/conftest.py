"""The audit log's fixtures: raw SQL past the append-only trigger (a superuser's tampering), the PKI's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection

# The PKI's own fixtures (a test hierarchy whose CA keys are made once per session) and the registry's.
from tests.pki.conftest import ca_keys, card_key, hierarchy, holder, issue, pki_dir  # noqa: F401
from tests.registry.conftest import write_extraction  # noqa: F401

TABLES = ("audit_auditrecord", "audit_checkpoint")


@pytest.fixture
def tamper(db) -> Callable[[str, list | None], int]:
    """Run SQL as the database's superuser does when they mean to: the append-only triggers disabled first
    (inside the test's transaction, so they are back afterwards). Returns the rows touched."""

    def run(sql: str, params: list | None = None) -> int:
        with connection.cursor() as cursor:
            # Deferred foreign-key checks still pending would forbid the ALTER: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
            cursor.execute(sql, params or [])
            touched = cursor.rowcount
            for table in TABLES:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
        return touched

    return run
