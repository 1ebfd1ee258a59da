"""The subscriber's fast reader of live events gives the same bytes as the full decode."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.events import DomainEvent
from domain.registry import REGISTRY, DomainToSSEMapping
from herald_contracts import MappingContracts, RecordingPublisher
from infrastructure.sse.handler import SSEEventHandler
from infrastructure.sse.wire_format import WireFormat

KIT = MappingContracts(REGISTRY)
WIRE = WireFormat()
HANDLER = SSEEventHandler(REGISTRY, RecordingPublisher(), WIRE)


def mapping_and_event() -> st.SearchStrategy[tuple[DomainToSSEMapping, DomainEvent]]:
    return st.sampled_from(list(REGISTRY)).flatmap(lambda m: st.tuples(st.just(m), KIT.events_of(m.domain_event)))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mapping_and_event())
def test_relay_equals_the_full_decode(case: tuple[DomainToSSEMapping, DomainEvent]) -> None:
    mapping, event = case
    sse = HANDLER.transform(mapping, event).event
    raw = WIRE.dumps_event(sse)
    decoded = WIRE.loads_event(raw)
    relayed = WIRE.relay(raw)
    assert relayed.data_json == WIRE.data_json(decoded)
    assert (relayed.event_type, relayed.category, relayed.occurred_at) == (
        decoded.event_type,
        decoded.category,
        decoded.occurred_at,
    )


def test_relay_refuses_what_is_not_an_sse_event() -> None:
    for raw in (b"[]", b'{"event_type": 1}', b'{"event_type": "a.b", "data": [], "event_id": "x"}', b"{"):
        try:
            WIRE.relay(raw)
        except (ValueError, KeyError, TypeError):
            continue
        raise AssertionError(f"accepted {raw!r}")
