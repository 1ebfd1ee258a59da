"""A broker message carries its trace's W3C context beside the event; a message without one is read as before."""

from domain.sse import SSECategory, SSEEvent
from infrastructure.sse.wire_format import WireFormat

TRACE = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


def event() -> SSEEvent:
    return SSEEvent(event_type="system.announcement", category=SSECategory("system"), data={"m": 1}, user_id=None)


def test_a_traced_message_carries_its_context_to_the_reader() -> None:
    wire = WireFormat()
    sent = event()
    raw = wire.dumps_event(sent, TRACE)
    assert wire.relay(raw).trace == TRACE
    assert wire.loads_event(raw) == sent  # a reader that does not trace passes over it


def test_an_untraced_message_is_the_same_bytes_as_before_and_reads_without_a_context() -> None:
    wire = WireFormat()
    sent = event()
    raw = wire.dumps_event(sent)
    assert raw == wire.dumps(sent)
    assert b"trace" not in raw
    relayed = wire.relay(raw)
    assert relayed.trace is None
    assert relayed.data_json == wire.relay(wire.dumps_event(sent, TRACE)).data_json
