"""What a write returns beside its own answer: the stream events it recorded, for read-your-writes."""

from collections.abc import Iterable
from typing import Generic, TypeVar
from uuid import UUID

import attrs

from domain.events import DomainEvent
from domain.registry import EventRegistry

T = TypeVar("T")


@attrs.frozen
class Recorded(Generic[T]):
    """A use case's result, and the ``event_id`` of each durable stream event its commit recorded.

    A client holds its optimistic state until its stream has delivered these:
    then the stream (and any snapshot read after it) reflects the write.
    """

    value: T
    event_ids: tuple[UUID, ...]

    @classmethod
    def of(cls, value: T, events: Iterable[DomainEvent], registry: EventRegistry) -> "Recorded[T]":
        return cls(value, registry.durable_event_ids(events))
