"""The benchmark's own domain events and mappings, added to Herald's registry the way a fork adds its own.

The payload carries the publisher's clock (``sent``, ns since the epoch) and a
sequence number, so the load generator measures end-to-end latency and loss.
"""

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import attrs

from application.ports.unit_of_work import UnitOfWorkFactory
from domain.events import DomainEvent
from domain.ports import EventBusProtocol
from domain.registry import REGISTRY, DomainToSSEMapping, EventRegistry
from domain.sse import GroupKind, SSECategory, to_everyone, to_group


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


@attrs.frozen(kw_only=True)
class BenchTenantPinged(DomainEvent):
    """One benchmark event for every member of a tenant: one write, however many members."""

    sent: int
    seq: int
    tenant: str


@attrs.frozen(kw_only=True)
class BenchUsersPinged(DomainEvent):
    """The same event for a set of users, as a large audience was addressed before groups: a write per user."""

    sent: int
    seq: int
    user_ids: frozenset[UUID]


@attrs.frozen(kw_only=True)
class BenchTiming:
    """The payload of both: the publisher's clock and the sequence number, not the audience."""

    sent: int
    seq: int


def _timing(event: BenchTenantPinged | BenchUsersPinged) -> Mapping[str, Any]:
    return {"sent": event.sent, "seq": event.seq}


def _users(event: BenchUsersPinged) -> frozenset[UUID]:
    return event.user_ids


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
        DomainToSSEMapping(
            domain_event=BenchTenantPinged,
            sse_event_type="bench.tenant_ping",
            category=SSECategory.SYSTEM,
            description="Benchmark event for every member of a tenant.",
            user_id_extractor=None,
            group_extractor=to_group(GroupKind.TENANT, field="tenant"),
            payload_extractor=_timing,
            payload_type=BenchTiming,
        ),
        DomainToSSEMapping(
            domain_event=BenchUsersPinged,
            sse_event_type="bench.users_ping",
            category=SSECategory.SYSTEM,
            description="Benchmark event for a set of users.",
            user_id_extractor=_users,
            payload_extractor=_timing,
            payload_type=BenchTiming,
        ),
    ]
)


def _event(user_id: UUID | None, sent: int, seq: int) -> DomainEvent:
    return BenchBroadcast(sent=sent, seq=seq) if user_id is None else BenchPinged(sent=sent, seq=seq, user_id=user_id)


class Ping:
    """The benchmark's use case: raise one event, as a use case that changes no state would."""

    def __init__(self, bus: EventBusProtocol) -> None:
        self._bus = bus

    async def __call__(self, user_id: UUID | None, *, sent: int, seq: int) -> None:
        await self._bus.publish(_event(user_id, sent, seq))

    async def to(self, audience: str | frozenset[UUID], *, sent: int, seq: int) -> None:
        """One event to a tenant's group (``audience`` names the tenant) or to a set of users."""
        if isinstance(audience, str):
            await self._bus.publish(BenchTenantPinged(sent=sent, seq=seq, tenant=audience))
        else:
            await self._bus.publish(BenchUsersPinged(sent=sent, seq=seq, user_ids=audience))


class PingDurably:
    """The same event from a unit of work, as a use case that changes state raises it: an outbox row
    committed in its own transaction, which the relay then delivers."""

    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def __call__(self, user_id: UUID | None, *, sent: int, seq: int) -> None:
        await self.many([(user_id, sent, seq)])

    async def many(self, pings: Sequence[tuple[UUID | None, int, int]]) -> None:
        """Several events from one unit of work, as a use case that raises many of them at once."""
        async with self._units() as uow:
            uow.record(*(_event(user_id, sent, seq) for user_id, sent, seq in pings))
            await uow.commit()
