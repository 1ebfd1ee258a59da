"""One trace from the request that raised an event to its delivery, on the embedded broker."""

import uuid
from collections.abc import Callable

import httpx
from dependency_injector import providers
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import DEFAULT_ON

from infrastructure.container import Container
from infrastructure.tracing import Tracing
from infrastructure.tracing.sampler import RequestRooted
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


async def test_an_announcement_is_one_trace_from_its_request_to_its_delivery(
    make_container: Callable[..., Container],
) -> None:
    container = make_container()
    exporter = traced(container)
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        async with StreamReader(client, "/api/v1/events", headers=bearer(container)) as stream:
            posted = await client.post(
                "/api/v1/announcements", json={"message": "traced"}, headers=bearer(container, roles=("admin",))
            )
            assert posted.status_code == 202, posted.text
            await stream.wait_until(lambda events: any(e.event == "system.announcement" for e in events))
            await eventually(lambda: bool(named(exporter.get_finished_spans(), "herald.deliver")))
    spans = exporter.get_finished_spans()
    (request,) = [span for span in spans if span.name.startswith("POST /api/v1/announcements")]
    (commit,) = named(spans, "herald.commit")
    (publish,) = named(spans, "herald.publish")
    (deliver,) = named(spans, "herald.deliver")
    assert {span.context.trace_id for span in (request, commit, publish, deliver)} == {request.context.trace_id}
    assert commit.parent is not None and commit.parent.span_id == request.context.span_id
    assert publish.parent is not None and publish.parent.span_id == commit.context.span_id
    assert deliver.parent is not None and deliver.parent.span_id == publish.context.span_id
    assert deliver.attributes is not None and deliver.attributes["herald.streams"] == 1
    statements = [span for span in spans if span.parent is not None and span.parent.span_id == request.context.span_id]
    assert any("INSERT" in span.name for span in statements), [span.name for span in spans]
    # The stream's own request is not traced, and no background poll starts a trace of its own.
    assert {span.context.trace_id for span in spans} == {request.context.trace_id}


async def test_without_the_variables_nothing_is_traced(make_container: Callable[..., Container]) -> None:
    container = make_container()
    assert container.tracing() is None
    assert container.sse_handler()._tracing is None  # noqa: SLF001
    assert uuid.UUID(int=0)  # the same container serves as before: see the other api tests
