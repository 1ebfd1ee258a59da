"""Every registry mapping, generated from its event's attrs field types: no per-mapping test code.

A mapping added to the registry is covered here automatically.
"""

import json
import uuid
from datetime import UTC, datetime

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.events import DomainEvent
from domain.registry import REGISTRY, DomainToSSEMapping
from domain.sse import BROADCAST
from infrastructure.sse.handler import SSEEventHandler
from infrastructure.sse.wire import encode_json_message
from infrastructure.sse.wire_format import WireFormat
from tests.support.fakes import FailingPublisher, RecordingPublisher
from tests.support.sse import parse_sse

MAPPINGS = list(REGISTRY)
WIRE = WireFormat()


#: Strategies by type where the wire format is narrower than Python: JSON payload
#: integers must fit in 64 bits, and domain timestamps are aware UTC.
BY_TYPE: dict[object, st.SearchStrategy[object]] = {
    int: st.integers(min_value=-(2**63), max_value=2**63 - 1),
    datetime: st.datetimes(timezones=st.just(UTC)),
}


def events_of(cls: type[DomainEvent]) -> st.SearchStrategy[DomainEvent]:
    """Instances of ``cls`` with every field, envelope included, generated from its attrs field types."""
    fields = {
        field.name: BY_TYPE[field.type] if field.type in BY_TYPE else st.from_type(field.type)  # type: ignore[arg-type]
        for field in attrs.fields(cls)
    }
    return st.builds(cls, **fields)


def mapping_and_event() -> st.SearchStrategy[tuple[DomainToSSEMapping, DomainEvent]]:
    return st.sampled_from(MAPPINGS).flatmap(lambda m: st.tuples(st.just(m), events_of(m.domain_event)))


def test_every_mapped_class_can_be_generated() -> None:
    assert MAPPINGS, "the registry is empty"

    @settings(max_examples=5)
    @given(st.data())
    def generate(data: st.DataObject) -> None:
        for mapping in MAPPINGS:
            assert isinstance(data.draw(events_of(mapping.domain_event)), mapping.domain_event)

    generate()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mapping_and_event())
def test_the_transform_targets_exactly_the_named_user(case: tuple[DomainToSSEMapping, DomainEvent]) -> None:
    mapping, event = case
    delivery = SSEEventHandler(REGISTRY, RecordingPublisher(), WIRE).transform(mapping, event)
    field = mapping.audience_field()
    if mapping.is_broadcast:
        assert delivery.audience is BROADCAST
        assert delivery.event.user_id is None
    else:
        assert field is not None
        assert delivery.audience == getattr(event, field)
        assert delivery.event.user_id == getattr(event, field)
    assert (delivery.event.event_type, delivery.event.category) == (mapping.sse_event_type, mapping.category)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mapping_and_event())
def test_the_payload_is_json_and_survives_the_wire(case: tuple[DomainToSSEMapping, DomainEvent]) -> None:
    mapping, event = case
    sse = SSEEventHandler(REGISTRY, RecordingPublisher(), WIRE).transform(mapping, event).event
    assert json.loads(json.dumps(dict(sse.data))) == sse.data
    assert WIRE.loads_event(WIRE.dumps_event(sse)) == sse


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mapping_and_event(), st.integers(min_value=1, max_value=2**62))
def test_the_encoded_message_parses_back(case: tuple[DomainToSSEMapping, DomainEvent], seq: int) -> None:
    mapping, event = case
    sse = SSEEventHandler(REGISTRY, RecordingPublisher(), WIRE).transform(mapping, event).event
    position = f"0badcafe-{seq}"
    [message] = parse_sse(encode_json_message(event=sse.event_type, data_json=WIRE.data_json(sse), event_id=position))
    assert (message.event, message.id) == (mapping.sse_event_type, position)
    data = json.loads(message.data)
    assert data["event_id"] == str(sse.event_id)
    assert data["occurred_at"] == sse.occurred_at.isoformat()
    assert {k: v for k, v in data.items() if k not in ("event_id", "occurred_at")} == sse.data


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(mapping_and_event())
async def test_handle_never_raises(case: tuple[DomainToSSEMapping, DomainEvent]) -> None:
    _, event = case
    working = RecordingPublisher()
    await SSEEventHandler(REGISTRY, working, WIRE).handle(event)
    assert working.calls == len(REGISTRY.mappings_for(type(event)))
    await SSEEventHandler(REGISTRY, FailingPublisher(), WIRE).handle(event)


def test_every_mapping_has_a_user_or_broadcast_audience() -> None:
    for mapping in MAPPINGS:
        assert mapping.is_broadcast or mapping.audience_field() is not None, mapping.sse_event_type
        assert uuid.UUID in {f.type for f in attrs.fields(mapping.domain_event)} or mapping.is_broadcast
