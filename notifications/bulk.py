"""Many notifications of one event at once, set-based (issue 16: after an import, thousands of holders may be
told of a first card, a proposal or a revocation in the import's own transaction).

``notify_bulk`` is ``services.notify`` for a set: the caller gives a SELECT yielding one row per recipient
(``recipient_id``, ``context`` as jsonb, ``dedup_key``); the channels are chosen as ``choose_channels`` does
(in-app always, e-mail when the person has an address, else a letter, and a letter too for a formal notice),
and the rows are written with one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``: a repeated call with
the same keys adds nothing. Delivery is scheduled on commit, and the sweep picks up whatever the broker
missed, exactly as for one notification.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from .events import EVENTS
from .models import Notification
from .services import notification_enqueue

Channel, State = Notification.Channel, Notification.State

BULK_SQL = """
WITH source AS ({source}),
wanted AS (
    SELECT s.recipient_id, s.context, s.dedup_key, ch.channel
    FROM source s
    JOIN registry_professional p ON p.id = s.recipient_id
    CROSS JOIN LATERAL (
        SELECT 'in_app' AS channel
        UNION ALL SELECT CASE WHEN p.email <> '' THEN 'email' ELSE 'letter' END
        UNION ALL SELECT 'letter' WHERE %(paper)s AND p.email <> ''
    ) ch
)
INSERT INTO notifications_notification (
    recipient_id, channel, event, language, context, dedup_key, state, attempts, next_attempt_at,
    claim_token, last_error, sent_at, read_at, postal_address, print_batch_id, created_at
)
SELECT recipient_id, channel, %(event)s, %(language)s, context, dedup_key,
       CASE WHEN channel = 'in_app' THEN 'sent' ELSE 'pending' END, 0, now(),
       NULL, '', CASE WHEN channel = 'in_app' THEN now() END, NULL, '', NULL, now()
FROM wanted
ON CONFLICT (dedup_key, channel) DO NOTHING
RETURNING id, state
"""


def notify_bulk(*, cursor: Any, event: str, source_sql: str, params: dict[str, Any] | None = None) -> int:
    """Write the notifications of ``event`` for every row of ``source_sql`` (columns ``recipient_id``,
    ``context`` jsonb, ``dedup_key``), in the caller's transaction; delivered once it commits. Named
    parameters (``%(name)s``) of ``source_sql`` come in ``params``; ``event``, ``paper`` and ``language``
    are taken. Returns how many rows were written. The context is the caller's to keep free of secrets and
    complete (``EVENTS[event].fields``): this function cannot see it row by row."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    values = dict(params or {})
    values.update(event=event, paper=EVENTS[event].paper, language=settings.CPX_NOTIFY_DEFAULT_LANGUAGE)
    cursor.execute(BULK_SQL.format(source=source_sql), values)
    rows = cursor.fetchall()
    pending = [pk for pk, state in rows if state == State.PENDING]
    if pending:
        transaction.on_commit(lambda: notification_enqueue(notification_ids=pending))
    return len(rows)
