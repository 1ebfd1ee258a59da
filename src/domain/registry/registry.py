"""The registry: validated, indexed view over every domain-event-to-SSE mapping."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from uuid import UUID

import attrs

from domain.events.base import ENVELOPE_FIELDS, DomainEvent
from domain.registry.mapping import RESERVED_PREFIX, SSE_EVENT_TYPE_PATTERN, DomainToSSEMapping
from domain.sse.audience import UserField
from domain.sse.categories import SSECategory
from domain.sse.groups import GroupField, GroupKind


class RegistryError(ValueError):
    """The registry contradicts itself; raised at import so a bad entry never ships."""


@attrs.frozen(kw_only=True)
class RegistryStatistics:
    """Counts for the catalogue, health output and start-up log."""

    mappings: int
    domain_event_classes: int
    broadcast_mappings: int
    by_category: Mapping[SSECategory, int]


class EventRegistry:
    """Every mapping, checked once, looked up in constant time."""

    def __init__(self, mappings: Iterable[DomainToSSEMapping]) -> None:
        self._mappings = tuple(mappings)
        _validate(self._mappings)
        by_class: defaultdict[type[DomainEvent], list[DomainToSSEMapping]] = defaultdict(list)
        for mapping in self._mappings:
            by_class[mapping.domain_event].append(mapping)
        self._by_class = MappingProxyType({cls: tuple(ms) for cls, ms in by_class.items()})

    def __iter__(self) -> Iterator[DomainToSSEMapping]:
        return iter(self._mappings)

    def __len__(self) -> int:
        return len(self._mappings)

    def as_mapping(self) -> Mapping[type[DomainEvent], tuple[DomainToSSEMapping, ...]]:
        """Domain event class → its mappings (read-only)."""
        return self._by_class

    def mappings_for(self, event_class: type[DomainEvent]) -> tuple[DomainToSSEMapping, ...]:
        """The mappings of exactly this class; empty when it is not mapped."""
        return self._by_class.get(event_class, ())

    def is_durable(self, event_class: type[DomainEvent]) -> bool:
        """True when a unit of work must deliver the class's events through its outbox (mapped, not ephemeral)."""
        mappings = self._by_class.get(event_class, ())
        return bool(mappings) and not mappings[0].ephemeral

    def durable_event_ids(self, events: Iterable[DomainEvent]) -> tuple[UUID, ...]:
        """The ``event_id`` of each durable SSE event ``events`` become: what a client waits to see on its
        stream to know its write has arrived (ephemeral ones may be lost, so none is promised)."""
        return tuple(
            mapping.sse_event_id(event)
            for event in events
            if self.is_durable(type(event))
            for mapping in self.mappings_for(type(event))
        )

    @property
    def domain_event_classes(self) -> frozenset[type[DomainEvent]]:
        """Every mapped domain event class."""
        return frozenset(self._by_class)

    def statistics(self) -> RegistryStatistics:
        """Summary counts of the registry."""
        return RegistryStatistics(
            mappings=len(self._mappings),
            domain_event_classes=len(self._by_class),
            broadcast_mappings=sum(m.is_broadcast for m in self._mappings),
            by_category=MappingProxyType(dict(Counter(m.category for m in self._mappings))),
        )


def _validate(mappings: tuple[DomainToSSEMapping, ...]) -> None:
    problems: list[str] = []
    for mapping in mappings:
        problems.extend(_entry_problems(mapping))
    type_counts = Counter(m.sse_event_type for m in mappings)
    problems.extend(
        f"SSE event type {name!r} is mapped {count} times; each type needs exactly one mapping"
        for name, count in type_counts.items()
        if count > 1
    )
    by_class: defaultdict[type[DomainEvent], list[DomainToSSEMapping]] = defaultdict(list)
    for mapping in mappings:
        by_class[mapping.domain_event].append(mapping)
    for cls, group in by_class.items():
        if len({m.ephemeral for m in group}) > 1:
            problems.append(f"{cls.__name__}: its mappings disagree on ephemeral; an event is stored or it is not")
        if len(group) > 1 and not all(m.shares_domain_event for m in group):
            types = ", ".join(m.sse_event_type for m in group)
            problems.append(
                f"{cls.__name__} is mapped to several SSE events ({types}); "
                "set shares_domain_event=True on each of them if that is intended"
            )
    if problems:
        raise RegistryError("invalid SSE event registry:\n  - " + "\n  - ".join(problems))


def _entry_problems(mapping: DomainToSSEMapping) -> Iterator[str]:
    name = mapping.sse_event_type
    where = f"mapping {name!r}"
    if not (isinstance(mapping.domain_event, type) and issubclass(mapping.domain_event, DomainEvent)):
        yield f"{where}: domain_event must be a DomainEvent subclass, got {mapping.domain_event!r}"
        return
    if not isinstance(mapping.category, SSECategory):
        valid = ", ".join(c.value for c in SSECategory)
        yield f"{where}: unknown category {mapping.category!r}; valid categories: {valid}"
    if not SSE_EVENT_TYPE_PATTERN.fullmatch(name) or len(name) > 64:
        yield f"{where}: SSE event type must be dotted lower-case like 'report.completed' (at most 64 characters)"
    if name.startswith(RESERVED_PREFIX):
        yield f"{where}: the prefix {RESERVED_PREFIX!r} is reserved for the stream's own signals"
    if not mapping.description.strip():
        yield f"{where}: a description is required for the event catalogue"
    yield from _payload_type_problems(mapping, where)
    field_names = {a.name for a in attrs.fields(mapping.domain_event)}
    field = mapping.audience_field()
    if field is not None and field not in field_names:
        yield (
            f"{where}: {mapping.domain_event.__name__} has no field {field!r} to address the event; "
            f"pass user_id_extractor=user_field(<field>) or to_everyone"
        )
    yield from _group_problems(mapping, where, field_names)


def _group_problems(mapping: DomainToSSEMapping, where: str, field_names: set[str]) -> Iterator[str]:
    group = mapping.group_extractor
    if group is None:
        if mapping.user_id_extractor is None:
            yield f"{where}: it addresses nobody; pass a user_id_extractor, a group_extractor, or both"
        return
    if not isinstance(group, GroupField):
        yield f"{where}: group_extractor must be to_group(<GroupKind>, field=<field>), got {group!r}"
        return
    if group.kind_field is None and not isinstance(group.kind, GroupKind):
        valid = ", ".join(k.value for k in GroupKind)
        yield f"{where}: unknown group kind {group.kind!r}; valid kinds: {valid}"
    if group.kind_field is not None and group.kind is not None:
        yield f"{where}: name the group's kind once: to_group(<GroupKind>, ...) or to_group(kind_field=<field>, ...)"
    for name in (group.field, group.kind_field):
        if name is not None and name not in field_names:
            yield f"{where}: {mapping.domain_event.__name__} has no field {name!r} to name the group"
    if mapping.user_id_extractor is not None and not isinstance(mapping.user_id_extractor, UserField):
        # One user beside the group is what lets a stream that is both receive the event once.
        yield f"{where}: with a group, the user must be one field (user_field(<field>)) or None"


def _payload_type_problems(mapping: DomainToSSEMapping, where: str) -> Iterator[str]:
    payload_type = mapping.payload_type
    if mapping.payload_extractor is None:
        if payload_type is not None:
            yield f"{where}: payload_type describes a payload_extractor's result; without an extractor, drop it"
        return
    if payload_type is None:
        yield (
            f"{where}: a payload_extractor needs payload_type=<attrs class with the fields it returns>, "
            "so the AsyncAPI document can describe the payload"
        )
        return
    if not (isinstance(payload_type, type) and attrs.has(payload_type)):
        yield f"{where}: payload_type must be an attrs class, got {payload_type!r}"
        return
    clashes = sorted(ENVELOPE_FIELDS & {a.name for a in attrs.fields(payload_type)})
    if clashes:
        names = ", ".join(clashes)
        yield f"{where}: payload_type {payload_type.__name__} declares {names}; every event carries its own"
