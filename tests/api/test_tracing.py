"""One trace from the request that raised an event to its delivery, on the embedded broker."""

from collections.abc import Callable

import httpx
from dependency_injector import providers
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import DEFAULT_ON

from infrastructure.container import Container
from infrastructure.tracing.sampler import RequestRooted
from infrastructure.tracing.tracing import Tracing
from tests.integration.helpers import bearer, eventually
from tests.support.server import serve
from tests.support.streams import StreamReader


def traced(container: Container) -> InMemorySpanExporter:
    """Trace ``container``'s work into memory, as an OTLP exporter would send it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=RequestRooted(DEFAULT_ON))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    container.tracing.override(providers.Object(Tracing(provider)))
    return exporter


def named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def is_child(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return span.parent is not None and span.parent.span_id == parent.context.span_id


async def test_an_announcement_is_one_trace_from_its_request_to_its_delivery(
    make_container: Callable[..., Container],
) -> None:
    container = make_container()
    exporter = traced(container)
    admin = bearer(container, roles=("admin",))
    async with (
        serve(container) as service,
        httpx.AsyncClient(base_url=service.base_url, timeout=10) as client,
        StreamReader(client, "/api/v1/events", headers=bearer(container)) as stream,
    ):
        posted = await client.post("/api/v1/announcements", json={"message": "traced"}, headers=admin)
        assert posted.status_code == 202, posted.text
        await stream.wait_until(lambda events: any(e.event == "system.announcement" for e in events))
        await eventually(lambda: bool(named(exporter.get_finished_spans(), "herald.deliver")))
    spans = exporter.get_finished_spans()
    (request,) = [span for span in spans if span.name.startswith("POST /api/v1/announcements")]
    (commit,) = named(spans, "herald.commit")
    (publish,) = named(spans, "herald.publish")
    (deliver,) = named(spans, "herald.deliver")
    assert {span.context.trace_id for span in (request, commit, publish, deliver)} == {request.context.trace_id}
    assert is_child(commit, request)
    assert is_child(publish, commit)
    assert is_child(deliver, publish)
    assert dict(deliver.attributes or {})["herald.streams"] == 1
    statements = [span.name for span in spans if is_child(span, request) or is_child(span, commit)]
    assert any(name.startswith("INSERT") for name in statements), statements
    # The stream's own request is not traced, and no background poll starts a trace of its own.
    assert {span.context.trace_id for span in spans} == {request.context.trace_id}


async def test_without_the_variables_nothing_is_traced(make_container: Callable[..., Container]) -> None:
    container = make_container()
    assert container.tracing() is None
    assert container.sse_handler()._tracing is None


async def test_ephemeral_events_of_a_request_continue_its_trace(make_container: Callable[..., Container]) -> None:
    """A report's progress skips the outbox; published after the commit, under the request, it is traced all the same."""
    container = make_container()
    exporter = traced(container)
    owner = bearer(container)
    async with (
        serve(container) as service,
        httpx.AsyncClient(base_url=service.base_url, timeout=10) as client,
        StreamReader(client, "/api/v1/events", headers=owner) as stream,
    ):
        posted = await client.post("/api/v1/reports", json={"title": "traced"}, headers=owner)
        assert posted.status_code == 202, posted.text
        await stream.wait_until(lambda events: any(e.event == "report.completed" for e in events))
        await eventually(lambda: len(named(exporter.get_finished_spans(), "herald.deliver")) >= 3)
    spans = exporter.get_finished_spans()
    (request,) = [span for span in spans if span.name.startswith("POST /api/v1/reports")]
    progress = [
        s
        for s in named(spans, "herald.publish")
        if dict(s.attributes or {}).get("herald.event_type") == "report.progress"
    ]
    assert progress
    assert {span.context.trace_id for span in progress} == {request.context.trace_id}
    delivered = [span for span in named(spans, "herald.deliver") if any(is_child(span, p) for p in progress)]
    assert len(delivered) == len(progress)
