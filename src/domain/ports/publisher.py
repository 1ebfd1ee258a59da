"""Port through which SSE events leave the process that raised them."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

import attrs

from domain.sse.event import SSEEvent


@attrs.frozen
class DeliveryAttempt:
    """One try at writing events that must arrive exactly once (the transactional outbox's).

    A retry names what came before it: ``earlier`` (the tokens of the tries
    that failed) and ``first_tried_at``, so a broker that keeps events can skip
    what an earlier try wrote before its answer was lost, and fence off an
    earlier try that it has not run yet.
    """

    token: str
    earlier: tuple[str, ...] = ()
    first_tried_at: datetime | None = None


@runtime_checkable
class SSEPublisherProtocol(Protocol):
    """Delivers SSE events to every process that may hold a recipient's stream."""

    async def publish(self, event: SSEEvent) -> None:
        """Deliver to ``event.user_id``, or to everyone when the event is a broadcast."""

    async def publish_to_users(self, event: SSEEvent, user_ids: Iterable[UUID]) -> None:
        """Deliver one copy of ``event`` to each of ``user_ids``."""

    async def broadcast(self, event: SSEEvent) -> None:
        """Deliver ``event`` to every user."""

    async def publish_now(self, events: Sequence[SSEEvent], attempt: DeliveryAttempt) -> None:
        """Write ``events`` (each to its ``user_id``, or to everyone) in order, or raise.

        Unlike :meth:`publish`, nothing is held for a retry of the publisher's
        own: the caller keeps the events (in the outbox) and retries with the
        same events and a new attempt naming this one.
        """
