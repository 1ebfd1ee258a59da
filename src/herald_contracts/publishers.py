"""Hand-written publishers for tests: one that records, one whose broker is down."""

from collections.abc import Iterable, Sequence
from uuid import UUID

from domain.ports import DeliveryAttempt
from domain.sse import SSEEvent


class RecordingPublisher:
    """Remembers what was published, by method."""

    def __init__(self) -> None:
        self.published: list[SSEEvent] = []
        self.to_users: list[tuple[SSEEvent, frozenset[UUID]]] = []
        self.broadcasts: list[SSEEvent] = []
        self.written_now: list[SSEEvent] = []

    async def publish(self, event: SSEEvent) -> None:
        self.published.append(event)

    async def publish_to_users(self, event: SSEEvent, user_ids: Iterable[UUID]) -> None:
        self.to_users.append((event, frozenset(user_ids)))

    async def broadcast(self, event: SSEEvent) -> None:
        self.broadcasts.append(event)

    async def publish_now(self, events: Sequence[SSEEvent], attempt: DeliveryAttempt) -> None:
        self.written_now.extend(events)

    @property
    def calls(self) -> int:
        return len(self.published) + len(self.to_users) + len(self.broadcasts) + len(self.written_now)


class FailingPublisher(RecordingPublisher):
    """A broker that is down."""

    async def publish(self, event: SSEEvent) -> None:
        raise ConnectionError("broker unreachable")

    async def publish_to_users(self, event: SSEEvent, user_ids: Iterable[UUID]) -> None:
        raise ConnectionError("broker unreachable")

    async def broadcast(self, event: SSEEvent) -> None:
        raise ConnectionError("broker unreachable")

    async def publish_now(self, events: Sequence[SSEEvent], attempt: DeliveryAttempt) -> None:
        raise ConnectionError("broker unreachable")
