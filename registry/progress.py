"""How far a running import is, published while its transaction is still open.

The import runs in one transaction, so whatever it writes is invisible until it commits. The rows read are
published instead on a database connection of its own, in autocommit, onto the upload's RegistryImport
row (``rows_read``, which the import only fills at the end): the back-office page polls that row. Writes
are bounded to one every ``MIN_INTERVAL`` seconds, whatever the size of the file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from .importer import row_listener
from .models import RegistryImport

logger = logging.getLogger(__name__)

MIN_INTERVAL = 0.5  # seconds between two writes


class ImportProgress:
    """Called with the rows read so far; writes them at a bounded rate on its own connection."""

    def __init__(self, import_id: int, *, min_interval: float | None = None) -> None:
        self.import_id = import_id
        self.min_interval = MIN_INTERVAL if min_interval is None else min_interval
        self.last = float("-inf")
        self.writes = 0
        self._connection: Any = None

    def __call__(self, rows: int) -> None:
        now = time.monotonic()
        if now - self.last < self.min_interval:
            return
        self.last = now
        self.publish(rows)

    def publish(self, rows: int) -> None:
        """Best effort: a failure to publish never fails the import (the page just waits longer)."""
        try:
            if self._connection is None:
                self._connection = connections.create_connection(DEFAULT_DB_ALIAS)
            table = RegistryImport._meta.db_table
            with self._connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET rows_read = %s WHERE id = %s AND status = %s",  # noqa: S608
                    [rows, self.import_id, RegistryImport.Status.RUNNING],
                )
            self.writes += 1
        except DatabaseError:
            logger.warning("import %s: progress not published", self.import_id, exc_info=True)
            self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@contextmanager
def import_progress_published(import_id: int) -> Iterator[ImportProgress]:
    """While the block runs, the importer's rows read are published for the upload ``import_id``."""
    progress = ImportProgress(import_id)
    token = row_listener.set(progress)
    try:
        yield progress
    finally:
        row_listener.reset(token)
        progress.close()
