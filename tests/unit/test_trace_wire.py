"""A broker message (and an outbox row) carries its trace's W3C context beside the event; one without, or with
one that cannot be read, is delivered as before."""

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from domain.sse import SSECategory, SSEEvent
from infrastructure.persistence.outbox import Outbox
from infrastructure.sse.wire_format import WireFormat
from infrastructure.tracing.tracing import Tracing

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


def test_a_context_that_is_not_one_is_ignored() -> None:
    wire = WireFormat()
    raw = wire.dumps_event(event(), {"traceparent": "nonsense"}).replace(b'{"traceparent":"nonsense"}', b'"x"')
    assert wire.relay(raw).trace is None


def test_a_delivery_whose_context_cannot_be_read_has_no_span_and_goes_on() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing(provider)
    tracing.delivered({"traceparent": 42}, "system.announcement", 1, 0)  # type: ignore[dict-item]
    tracing.delivered({"traceparent": "00-zz-zz-01"}, "system.announcement", 1, 0)
    assert all(span.parent is None for span in exporter.get_finished_spans())


def test_an_outbox_row_whose_context_cannot_be_read_is_relayed_without_one() -> None:
    assert Outbox.trace_context(None) is None
    assert Outbox.trace_context("{not json") is None
    assert Outbox.trace_context('"a string"') is None
    assert Outbox.trace_context('{"traceparent": "00-ab-cd-01"}') == {"traceparent": "00-ab-cd-01"}
