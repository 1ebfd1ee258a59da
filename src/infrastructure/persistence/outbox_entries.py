"""The outbox's rows as delivery diagnostics read them: one event's row, and who its SSE events are for."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from application.ports.diagnostics import Addressed, OutboxEntry
from domain.sse import Broadcast
from infrastructure.persistence.database import Database, unavailable
from infrastructure.persistence.outbox import Outbox
from infrastructure.persistence.tables import outbox
from infrastructure.sse.handler import Delivery, SSEEventHandler


class SqlOutboxEntries:
    """``OutboxEntries`` on the database; the audience is what the registry makes of the row's event today."""

    def __init__(self, database: Database, box: Outbox, handler: SSEEventHandler) -> None:
        self._database = database
        self._outbox = box
        self._handler = handler

    async def find(self, event_id: UUID) -> tuple[OutboxEntry, Sequence[Addressed]] | None:
        try:
            async with self._database.connect() as connection:
                row = (await connection.execute(select(outbox).where(outbox.c.event_id == event_id))).first()
        except DBAPIError as error:
            raise unavailable(type(error).__name__) from error
        if row is None:
            return None
        entry = OutboxEntry(
            domain_event=row.event_type,
            committed_at=row.recorded_at,
            attempts=len([token for token in row.attempts.split(",") if token]),
            first_tried_at=row.first_tried_at,
            published_at=row.published_at,
            failure=row.failure,
        )
        try:
            deliveries = self._handler.deliveries(self._outbox.load(row.event_type, row.payload))
        except Exception:  # unreadable, or an extractor fails on it: the row says so in ``failure``
            return entry, ()
        return entry, [_addressed(delivery) for delivery in deliveries]


def _addressed(delivery: Delivery) -> Addressed:
    event = delivery.event
    users = tuple(copy.user_id for copy in delivery.addressed() if copy.user_id is not None)
    return Addressed(
        event_id=event.event_id,
        event_type=event.event_type,
        category=event.category.value,
        users=users,
        group=str(event.group) if event.group is not None else None,
        broadcast=isinstance(delivery.audience, Broadcast),
    )
