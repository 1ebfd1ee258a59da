"""Port through which a user's stream receives its SSE events."""

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable
from uuid import UUID

from domain.sse.categories import SSECategory
from domain.sse.groups import Group


class SubscriberUnavailableError(Exception):
    """The stream cannot be opened now (the broker is unreachable); the client should retry later."""


@runtime_checkable
class EventStream(Protocol):
    """One open stream: SSE-encoded messages, live after any replay.

    Every item is a complete SSE message (or comment) ending in a blank line.
    The iteration ends when the server closes the stream (shutdown, a client
    too slow to keep up); the client then reconnects with its last id.
    """

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    def end(self, farewell: bytes | None = None) -> None:
        """End the stream from the server side, after sending ``farewell`` (a last message)."""

    async def aclose(self) -> None:
        """Release the subscription; safe to call more than once."""


@runtime_checkable
class SSESubscriberProtocol(Protocol):
    """Opens streams for users, resuming after a ``Last-Event-ID`` when given one."""

    async def subscribe(
        self,
        user_id: UUID,
        *,
        categories: frozenset[SSECategory] | None = None,
        last_event_id: str | None = None,
        groups: frozenset[Group] = frozenset(),
    ) -> EventStream:
        """Register the stream at once (so nothing published afterwards is missed).

        Args:
            user_id: the authenticated user; only their events, broadcasts and
                the events of ``groups`` arrive.
            categories: only these categories; ``None`` for all.
            last_event_id: resume strictly after this id. An id the subscriber
                cannot resume from yields a ``stream.reset`` signal event first.
            groups: the groups the stream is a member of (its tenant's, the
                resources it watches), each already allowed by the caller's use case.
        """
        ...

    async def position(self, user_id: UUID, groups: frozenset[Group] = frozenset()) -> str | None:
        """The ``Last-Event-ID`` that resumes ``user_id``'s stream (in ``groups``) right after everything so far.

        A client that loads state after asking for this and then opens its
        stream from it misses nothing; None when resume is off (no retention).
        Raises :class:`SubscriberUnavailableError` when the broker cannot say now.
        """
        ...

    async def is_ready(self) -> bool:
        """True when the subscriber can deliver events (used by readiness checks)."""
        ...
