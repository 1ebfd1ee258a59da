"""Port through which SSE events leave the process that raised them."""

from collections.abc import Iterable
from typing import Protocol, runtime_checkable
from uuid import UUID

from domain.sse.event import SSEEvent


@runtime_checkable
class SSEPublisherProtocol(Protocol):
    """Delivers SSE events to every process that may hold a recipient's stream."""

    async def publish(self, event: SSEEvent) -> None:
        """Deliver to ``event.user_id``, or to everyone when the event is a broadcast."""

    async def publish_to_users(self, event: SSEEvent, user_ids: Iterable[UUID]) -> None:
        """Deliver one copy of ``event`` to each of ``user_ids``."""

    async def broadcast(self, event: SSEEvent) -> None:
        """Deliver ``event`` to every user."""
