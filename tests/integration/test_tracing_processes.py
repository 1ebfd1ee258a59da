"""Tracing across real processes: one POST on one process, its delivery on another, one trace at a real receiver.

Two ``herald run`` processes share a private Redis and a PostgreSQL database
(the outbox), and export to an OTLP/HTTP receiver on loopback
(:mod:`tests.support.otlp`). A process flushes what it traced as it stops, so
its exit is the moment everything it would ever send has arrived.
"""

import json
import logging
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.integration.helpers import announce, process_bearer
from tests.support.otlp import OtlpReceiver, ReceivedSpan, otlp_receiver
from tests.support.processes import PrivateRedis, herald_process
from tests.support.streams import StreamReader

pytestmark = [pytest.mark.spawns, pytest.mark.timeout(120)]
logger = logging.getLogger(__name__)


def environment(redis: PrivateRedis, database: str, receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "HERALD_REDIS_URL": redis.url,
        "HERALD_DATABASE_URL": database,
        "HERALD_JWT_SECRET": TEST_SECRET,
        "HERALD_LOG_FORMAT": "json",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
    }


def tree(spans: list[ReceivedSpan]) -> str:
    """The trace as text: each span under its parent, with its process, start (from the first span's) and
    duration."""
    children: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        children.setdefault(span.parent_span_id, []).append(span)
    ids = {span.span_id for span in spans}
    lines: list[str] = []
    began = min(span.start_ns for span in spans)

    def walk(span: ReceivedSpan, depth: int) -> None:
        streams = f" streams={span.attributes['herald.streams']}" if "herald.streams" in span.attributes else ""
        at = (span.start_ns - began) / 1e6
        lines.append(f"{'  ' * depth}{span.name} [{span.service}] +{at:.1f} ms, {span.milliseconds:.2f} ms{streams}")
        for child in children.get(span.span_id, []):
            walk(child, depth + 1)

    for root in (span for span in spans if span.parent_span_id not in ids):
        walk(root, 0)
    return "\n".join(lines)


async def test_a_post_on_one_process_and_its_delivery_on_another_are_one_trace(
    own_redis: PrivateRedis, postgres_database: str, tmp_path: Path
) -> None:
    user, admin = uuid.uuid4(), uuid.uuid4()
    with otlp_receiver() as receiver:
        env = environment(own_redis, postgres_database, receiver)
        with (
            herald_process({**env, "OTEL_SERVICE_NAME": "herald-a"}, tmp_path / "a.log") as a,
            herald_process({**env, "OTEL_SERVICE_NAME": "herald-b"}, tmp_path / "b.log") as b,
        ):
            async with (
                httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
                httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
                StreamReader(on_b, "/api/v1/events", headers=process_bearer(user)) as stream,
            ):
                await announce(on_a, process_bearer(admin, "admin"), "traced")
                await stream.wait_until(lambda events: any(e.event == "system.announcement" for e in events))
        # Both processes have stopped, and flushed what they traced as they did.
        (request,) = [span for span in receiver.received() if span.name == "POST /api/v1/announcements"]
        spans = receiver.trace(request.trace_id)
        logger.info("the trace:\n%s", tree(spans))
        by_name = {(span.name, span.service) for span in spans}
        assert ("herald.commit", "herald-a") in by_name
        assert any(name == "herald.publish" for name, _ in by_name)
        deliveries = {
            span.service: span.attributes["herald.streams"] for span in spans if span.name == "herald.deliver"
        }
        assert deliveries == {"herald-a": 0, "herald-b": 1}  # a broadcast: every process delivers it, to its streams
        assert any(span.name.startswith("INSERT") and span.service == "herald-a" for span in spans)
        # One trace: every span of it descends from the request.
        ids = {span.span_id for span in spans}
        assert [span.name for span in spans if span.parent_span_id not in ids] == [request.name]
        # The request's log lines on process A carry its trace id.
        lines = [json.loads(line) for line in a.log().splitlines() if line.startswith("{")]
        assert any(line.get("trace_id") == request.trace_id for line in lines)


async def test_without_the_variables_no_span_is_created(tmp_path: Path) -> None:
    user, admin = uuid.uuid4(), uuid.uuid4()
    with otlp_receiver() as receiver:
        # Where to send, but no exporter named: tracing stays off.
        env = {"HERALD_JWT_SECRET": TEST_SECRET, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
        with herald_process(env, tmp_path / "herald.log") as service:
            async with (
                httpx.AsyncClient(base_url=service.base_url, timeout=10) as client,
                StreamReader(client, "/api/v1/events", headers=process_bearer(user)) as stream,
            ):
                await announce(client, process_bearer(admin, "admin"), "untraced")
                await stream.wait_until(lambda events: any(e.event == "system.announcement" for e in events))
            service.stop()
        # The marker: its shutdown, where a process that traced flushes what it has not sent yet, is complete.
        assert "Application shutdown complete" in service.log()
        assert receiver.requests == 0
