"""Use case: what happened to one event, for the on-call engineer whose user says an update never came.

The answer is read from what the parts already keep: the outbox row (committed, tried, published), the
registry (who the event is for), the broker's logs (whether resume can still replay it) and each
process's recent deliveries (streams reached, and the open ones of the audience that were skipped, and
why). Who may ask is decided at the edge (the ``admin`` role).
"""

from collections.abc import Sequence
from uuid import UUID

import attrs

from application.ports import StorageUnavailableError
from application.ports.diagnostics import (
    Addressed,
    BrokerLogs,
    DeliveryRecords,
    LogPlace,
    OutboxEntries,
    OutboxEntry,
    ProcessDelivery,
)
from application.refusals import UNAVAILABLE, RefusalKind, Refused


@attrs.frozen
class AddressedPlaces:
    """One SSE event of the domain event, its audience, and where it stands in the broker's logs."""

    event: Addressed
    places: Sequence[LogPlace]


@attrs.frozen
class EventDiagnosis:
    """Everything known of one event's way to its users."""

    event_id: UUID
    outbox: OutboxEntry | None
    """None: not a durable event (ephemeral events never enter the outbox), or its row was pruned."""
    events: Sequence[AddressedPlaces]
    deliveries: Sequence[ProcessDelivery]
    """By process, within the last ``window_seconds``."""
    window_seconds: float


class DiagnoseEvent:
    """Answer for one event id, or say that nothing knows it (unknown, or older than what is kept)."""

    def __init__(self, outbox: OutboxEntries, logs: BrokerLogs, deliveries: DeliveryRecords) -> None:
        self._outbox = outbox
        self._logs = logs
        self._deliveries = deliveries

    async def __call__(self, event_id: UUID) -> EventDiagnosis | Refused:
        try:
            found = await self._outbox.find(event_id)
        except StorageUnavailableError:
            return UNAVAILABLE
        entry, addressed = found if found is not None else (None, ())
        # A mapping that shares its domain event gives its SSE event an id of its own: look for each.
        ids = dict.fromkeys([event_id, *(event.event_id for event in addressed)])
        deliveries = [delivery for each in ids for delivery in await self._deliveries.of(each)]
        if entry is None and not deliveries:
            window = f"{self._deliveries.window_seconds:g}"
            return Refused(
                RefusalKind.NOT_FOUND,
                f"no event {event_id} in the outbox nor among the deliveries of the last {window} s",
            )
        # The broker's logs are looked into once the relay published it (until then the outbox row says why not).
        published = entry.published_at if entry is not None and entry.failure is None else None
        events = [
            AddressedPlaces(event, await self._logs.places(event, published) if published is not None else ())
            for event in addressed
        ]
        return EventDiagnosis(
            event_id=event_id,
            outbox=entry,
            events=events,
            deliveries=sorted(deliveries, key=lambda delivery: (delivery.first_at, delivery.process)),
            window_seconds=self._deliveries.window_seconds,
        )
