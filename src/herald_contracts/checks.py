"""The contracts every registry mapping keeps, each a plain function usable from any test.

Each check raises :class:`ContractViolation` naming the mapping, the contract
and the cause; it returns nothing when the mapping keeps the contract.
"""

import asyncio
import json
from collections.abc import Collection, Iterable
from typing import Any, NoReturn
from uuid import UUID

import attrs
import orjson

from domain.events import ENVELOPE_FIELDS, DomainEvent
from domain.registry import DomainToSSEMapping, EventRegistry
from domain.registry.mapping import RESERVED_PREFIX, SSE_EVENT_TYPE_PATTERN
from domain.sse import BROADCAST, Broadcast, Group, GroupKind, SSECategory, SSEEvent
from herald_contracts.deny_list import DEFAULT_SECRET_NAMES, secret_keys
from herald_contracts.errors import ContractViolation
from herald_contracts.json_safety import json_problems
from herald_contracts.publishers import FailingPublisher, RecordingPublisher
from herald_contracts.sse import parse_sse
from infrastructure.sse.framing import encode_json_message
from infrastructure.sse.handler import SSEEventHandler
from infrastructure.sse.wire_format import WireFormat

_WIRE = WireFormat()

#: The ``id:`` used when a message is encoded and parsed back (any stream position would do).
SAMPLE_POSITION = "1700000000000-0"


def check_category(mapping: DomainToSSEMapping) -> None:
    """The category is an :class:`SSECategory` member and the event type is a client's, not the stream's."""
    if not isinstance(mapping.category, SSECategory):
        valid = ", ".join(c.value for c in SSECategory)
        _fail(mapping, "category", f"{mapping.category!r} is not an SSECategory member (valid: {valid})")
    if mapping.sse_event_type.startswith(RESERVED_PREFIX):
        _fail(mapping, "category", f"event types under {RESERVED_PREFIX!r} are reserved for the stream's signals")
    if not SSE_EVENT_TYPE_PATTERN.fullmatch(mapping.sse_event_type):
        _fail(mapping, "category", "the event type must be dotted lower-case like 'report.completed'")


def check_target_user(mapping: DomainToSSEMapping, event: DomainEvent, *, wire_format: WireFormat = _WIRE) -> None:
    """The event goes to the user its declared field names (or to everyone), and to the group its
    group field names, and the SSE event says so."""
    field = mapping.audience_field()
    if field is not None:
        attribute = attrs.fields_dict(attrs.resolve_types(mapping.domain_event)).get(field)
        declared = attribute.type if attribute is not None else "a missing field"
        if declared is not UUID:
            _fail(mapping, "target user", f"user_field({field!r}) names a field typed {declared!r}, not UUID")
        if field in ENVELOPE_FIELDS:
            _fail(mapping, "target user", f"user_field({field!r}) names the event's envelope, not a user")
    try:
        audience: object = mapping.user_id_extractor(event) if mapping.user_id_extractor is not None else None
    except Exception as error:
        _fail(mapping, "target user", f"the audience extractor raised {type(error).__name__}: {error}")
    if mapping.user_id_extractor is None:
        pass  # the group alone: checked below
    elif mapping.is_broadcast:
        if audience is not BROADCAST:
            _fail(mapping, "target user", f"to_everyone returned {audience!r}, not BROADCAST")
    elif field is not None:
        if audience != getattr(event, field) or not isinstance(audience, UUID):
            _fail(mapping, "target user", f"the extractor returned {audience!r}, not the UUID in field {field!r}")
    else:
        _check_custom_audience(mapping, audience, event)
    sse = _transform(mapping, event, wire_format, "target user")
    expected_user = audience if isinstance(audience, UUID) else None
    if sse.user_id != expected_user:
        _fail(mapping, "target user", f"SSEEvent.user_id is {sse.user_id!r}, expected {expected_user!r}")
    if (sse.event_type, sse.category) != (mapping.sse_event_type, mapping.category):
        _fail(mapping, "target user", f"the SSE event is {sse.event_type!r} in {sse.category!r}")
    _check_group(mapping, event, sse)


def _check_group(mapping: DomainToSSEMapping, event: DomainEvent, sse: SSEEvent) -> None:
    extractor = mapping.group_extractor
    if extractor is None:
        if sse.group is not None:
            _fail(mapping, "target group", f"SSEEvent.group is {sse.group}, but the mapping names no group")
        return
    attribute = attrs.fields_dict(attrs.resolve_types(mapping.domain_event)).get(extractor.field)
    declared = attribute.type if attribute is not None else "a missing field"
    if declared not in (UUID, str):
        _fail(mapping, "target group", f"to_group(field={extractor.field!r}) names a field typed {declared!r}")
    if extractor.field in ENVELOPE_FIELDS:
        _fail(mapping, "target group", f"to_group(field={extractor.field!r}) names the event's envelope")
    kind = extractor.kind
    if extractor.kind_field is not None:
        kind_attribute = attrs.fields_dict(attrs.resolve_types(mapping.domain_event)).get(extractor.kind_field)
        if kind_attribute is None or kind_attribute.type is not GroupKind:
            _fail(mapping, "target group", f"to_group(kind_field={extractor.kind_field!r}) names no GroupKind field")
        kind = getattr(event, extractor.kind_field)
    if kind is None:
        _fail(mapping, "target group", "to_group() names no kind: pass a GroupKind or kind_field=<field>")
    expected = Group(kind, str(getattr(event, extractor.field)))
    if sse.group != expected:
        _fail(mapping, "target group", f"SSEEvent.group is {sse.group}, expected {expected}")


def check_payload_shape(mapping: DomainToSSEMapping, event: DomainEvent, *, wire_format: WireFormat = _WIRE) -> None:
    """The payload is a str-keyed dict that the envelope does not overwrite; a default one holds every field."""
    data = _transform(mapping, event, wire_format, "payload shape").data
    if not isinstance(data, dict):
        _fail(mapping, "payload shape", f"the payload is a {type(data).__name__}, not a dict")
    if non_str := [key for key in data if not isinstance(key, str)]:
        _fail(mapping, "payload shape", f"payload keys must be strings, got {non_str!r}")
    if clash := sorted(ENVELOPE_FIELDS & data.keys()):
        _fail(mapping, "payload shape", f"payload keys {clash} are replaced by the SSE envelope on the wire")
    if mapping.payload_extractor is None:
        names = [a.name for a in attrs.fields(type(event)) if a.name not in ENVELOPE_FIELDS]
        expected = wire_format.json_ready({name: getattr(event, name) for name in names})
        if data != expected:
            _fail(mapping, "payload shape", f"the default payload {data!r} is not the event's fields {expected!r}")


def check_json_safety(mapping: DomainToSSEMapping, event: DomainEvent, *, wire_format: WireFormat = _WIRE) -> None:
    """The payload holds JSON types only, within JSON's limits, and survives orjson and json unchanged."""
    data = _transform(mapping, event, wire_format, "JSON safety").data
    if problems := list(json_problems(data)):
        _fail(mapping, "JSON safety", "; ".join(problems))
    if orjson.loads(orjson.dumps(data)) != data:
        _fail(mapping, "JSON safety", f"orjson does not read back {data!r}")
    if json.loads(json.dumps(data, allow_nan=False)) != data:
        _fail(mapping, "JSON safety", f"json does not read back {data!r}")


def check_wire_round_trip(mapping: DomainToSSEMapping, event: DomainEvent, *, wire_format: WireFormat = _WIRE) -> None:
    """The SSE event crosses processes unchanged and its encoded message parses back to the same data."""
    sse = _transform(mapping, event, wire_format, "wire round trip")
    try:
        back = wire_format.loads_event(wire_format.dumps_event(sse))
        raw = encode_json_message(event=sse.event_type, data_json=wire_format.data_json(sse), event_id=SAMPLE_POSITION)
    except Exception as error:
        _fail(mapping, "wire round trip", f"encoding raised {type(error).__name__}: {error}")
    if back != sse:
        _fail(mapping, "wire round trip", f"dumps_event/loads_event turned {sse!r} into {back!r}")
    messages = parse_sse(raw)
    if len(messages) != 1:
        _fail(mapping, "wire round trip", f"the encoded message parses as {len(messages)} messages: {raw!r}")
    [message] = messages
    if (message.event, message.id) != (sse.event_type, SAMPLE_POSITION):
        _fail(mapping, "wire round trip", f"parsed back as event {message.event!r} with id {message.id!r}")
    envelope = {"event_id": str(sse.event_id), "occurred_at": sse.occurred_at.isoformat()}
    if json.loads(message.data) != {**sse.data, **envelope}:
        _fail(mapping, "wire round trip", f"the data line parses back as {message.data!r}")


def check_fail_open(
    mapping: DomainToSSEMapping,
    event: DomainEvent,
    *,
    registry: EventRegistry | None = None,
    wire_format: WireFormat = _WIRE,
) -> None:
    """Synchronous :func:`check_fail_open_async` (runs its own event loop)."""
    asyncio.run(check_fail_open_async(mapping, event, registry=registry, wire_format=wire_format))


async def check_fail_open_async(
    mapping: DomainToSSEMapping,
    event: DomainEvent,
    *,
    registry: EventRegistry | None = None,
    wire_format: WireFormat = _WIRE,
) -> None:
    """The handler publishes once per mapping through the right method, and a broker that is down raises nothing.

    ``registry`` defaults to one holding only ``mapping``; pass the real one to
    check an event class that several mappings share.
    """
    registry = registry or EventRegistry([mapping])
    working = RecordingPublisher()
    handler = SSEEventHandler(registry, working, wire_format)
    await _handle(handler, mapping, event, "the working publisher")
    if handler.failed:
        _fail(mapping, "fail-open", f"the handler dropped {dict(handler.failed)} (see the other contracts for why)")
    expected = sorted(m.sse_event_type for m in registry.mappings_for(type(event)))
    sent = [e.event_type for e in working.published + working.broadcasts] + [e.event_type for e, _ in working.to_users]
    if sorted(sent) != expected:
        _fail(mapping, "fail-open", f"published {sorted(sent)}, expected each of {expected} once")
    if mapping.is_broadcast and [e.event_type for e in working.broadcasts].count(mapping.sse_event_type) != 1:
        _fail(mapping, "fail-open", "a broadcast mapping was not published with broadcast()")
    down = SSEEventHandler(registry, FailingPublisher(), wire_format)
    await _handle(down, mapping, event, "a publisher whose broker is down")
    if down.failed[mapping.sse_event_type] != 1:
        _fail(mapping, "fail-open", "a publisher failure was not counted once")


def check_no_secrets(
    mapping: DomainToSSEMapping,
    event: DomainEvent,
    *,
    secret_names: Iterable[str] = DEFAULT_SECRET_NAMES,
    allowed_keys: Iterable[str] = (),
    wire_format: WireFormat = _WIRE,
) -> None:
    """No payload key, at any depth, looks like a deny-listed secret name (see :mod:`herald_contracts.deny_list`)."""
    data = _transform(mapping, event, wire_format, "no secrets").data
    if leaks := list(secret_keys(data, secret_names, allowed_keys)):
        found = ", ".join(f"{path} (looks like {name!r})" for path, name in leaks)
        _fail(
            mapping,
            "no secrets",
            f"secret-looking payload keys: {found}. Leave the field out with a payload_extractor, or, "
            "if it is no secret, exempt the key with allowed_keys",
        )


def _check_custom_audience(mapping: DomainToSSEMapping, audience: object, event: DomainEvent) -> None:
    if isinstance(audience, Broadcast):
        _fail(mapping, "target user", "a custom extractor returned BROADCAST; declare broadcasts with to_everyone")
    if isinstance(audience, UUID):
        audience = [audience]
    if not isinstance(audience, Collection) or isinstance(audience, (str, bytes)):
        _fail(mapping, "target user", f"the extractor returned a {type(audience).__name__}, not a UUID or UUIDs")
    if not all(isinstance(user, UUID) for user in audience):
        _fail(mapping, "target user", f"the extractor returned {audience!r}; every recipient must be a UUID")
    if event.event_id in audience:
        _fail(mapping, "target user", "the extractor returned the event's own event_id as a recipient")


def _transform(mapping: DomainToSSEMapping, event: DomainEvent, wire_format: WireFormat, contract: str) -> SSEEvent:
    handler = SSEEventHandler(EventRegistry([mapping]), RecordingPublisher(), wire_format)
    try:
        return handler.transform(mapping, event).event
    except Exception as error:
        _fail(mapping, contract, f"the transform raised {type(error).__name__}: {error}")


async def _handle(handler: SSEEventHandler, mapping: DomainToSSEMapping, event: DomainEvent, publisher: str) -> None:
    try:
        await handler.handle(event)
    except Exception as error:
        _fail(mapping, "fail-open", f"handle() raised {type(error).__name__} with {publisher}: {error}")


def _fail(mapping: DomainToSSEMapping, contract: str, detail: Any) -> NoReturn:
    __tracebackhide__ = True  # pytest shows the check that failed, not this helper
    name = getattr(mapping.domain_event, "__name__", repr(mapping.domain_event))
    raise ContractViolation(f"{mapping.sse_event_type!r} ({name}) breaks the {contract} contract: {detail}")
