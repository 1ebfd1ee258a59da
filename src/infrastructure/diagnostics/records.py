"""This process's recent deliveries as the diagnostics port gives them, and the name a process goes by."""

import os
import socket
from datetime import UTC, datetime
from uuid import UUID

from application.ports.diagnostics import ProcessDelivery
from infrastructure.streams.deliveries import EventDelivery, RecentDeliveries


def process_name() -> str:
    """``<host>:<pid>``: what tells the processes of a deployment apart in an answer (and in ``CLIENT LIST``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def snapshot(record: EventDelivery, process: str) -> ProcessDelivery:
    """The record as it stands now (it goes on changing while the event's frames are written)."""
    return ProcessDelivery(
        process=process,
        event_type=record.event_type,
        category=record.category.value,
        first_at=datetime.fromtimestamp(record.first_at, UTC),
        last_at=datetime.fromtimestamp(record.last_at, UTC),
        queued=record.queued,
        written=record.written,
        skipped=dict(record.skipped),
        examples=list(record.examples),
    )


class LocalDeliveryRecords:
    """``DeliveryRecords`` of the one process there is (the embedded broker)."""

    def __init__(self, recent: RecentDeliveries, process: str) -> None:
        self._recent = recent
        self._process = process

    @property
    def window_seconds(self) -> float:
        return self._recent.window_seconds

    async def of(self, event_id: UUID) -> list[ProcessDelivery]:
        record = self._recent.find(str(event_id))
        return [snapshot(record, self._process)] if record is not None else []
