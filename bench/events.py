"""The benchmark's own domain events and mappings, added to Herald's registry the way a fork adds its own.

The payload carries the publisher's clock (``sent``, ns since the epoch) and a
sequence number, so the load generator measures end-to-end latency and loss.
"""

from uuid import UUID

import attrs

from domain.events import DomainEvent
from domain.ports import EventBusProtocol
from domain.registry import REGISTRY, DomainToSSEMapping, EventRegistry
from domain.sse import SSECategory, to_everyone


@attrs.frozen(kw_only=True)
class BenchPinged(DomainEvent):
    """One benchmark event for one user."""

    sent: int
    seq: int
    user_id: UUID


@attrs.frozen(kw_only=True)
class BenchBroadcast(DomainEvent):
    """One benchmark event for everyone."""

    sent: int
    seq: int


BENCH_REGISTRY = EventRegistry(
    [
        *REGISTRY,
        DomainToSSEMapping(
            domain_event=BenchPinged,
            sse_event_type="bench.ping",
            category=SSECategory.SYSTEM,
            description="Benchmark event for one user.",
        ),
        DomainToSSEMapping(
            domain_event=BenchBroadcast,
            sse_event_type="bench.broadcast",
            category=SSECategory.SYSTEM,
            description="Benchmark event for everyone.",
            user_id_extractor=to_everyone,
        ),
    ]
)


class Ping:
    """The benchmark's use case: raise one event, as any use case of a fork would."""

    def __init__(self, bus: EventBusProtocol) -> None:
        self._bus = bus

    async def __call__(self, user_id: UUID | None, *, sent: int, seq: int) -> None:
        if user_id is None:
            await self._bus.publish(BenchBroadcast(sent=sent, seq=seq))
        else:
            await self._bus.publish(BenchPinged(sent=sent, seq=seq, user_id=user_id))
