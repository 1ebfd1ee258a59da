"""Every record renders through one structlog chain: JSON objects in production, readable lines in development."""

import json
import logging
import sys

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from infrastructure.settings import LogFormat
from presentation.process.logging_setup import logging_config
from tests.support.logs import render


def record(name: str, message: str, args: tuple[object, ...] = (), **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def access_record(path: str) -> logging.LogRecord:
    # The shape of uvicorn's access-log record: the request line is an argument.
    return record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", path, "1.1", 200))


def test_json_lines_have_timestamp_level_logger_message_and_extra_fields() -> None:
    line = render("json", record("infrastructure.sse.handler", "published %s", ("x",), event_id="01-2", held=3))
    assert line.endswith("\n")
    assert line.count("\n") == 1
    entry = json.loads(line)
    assert entry["event"] == "published x"
    assert entry["level"] == "warning"
    assert entry["logger"] == "infrastructure.sse.handler"
    assert entry["timestamp"].endswith("Z")
    assert (entry["event_id"], entry["held"]) == ("01-2", 3)


def test_the_bound_request_id_is_on_every_line_logged_meanwhile() -> None:
    with structlog.contextvars.bound_contextvars(request_id="req-42"):
        inside = json.loads(render("json", record("presentation.http.errors", "something")))
    outside = json.loads(render("json", record("presentation.http.errors", "something")))
    assert inside["request_id"] == "req-42"
    assert "request_id" not in outside


def test_lines_logged_within_a_span_carry_its_trace_and_span_ids() -> None:
    provider = TracerProvider()
    with provider.get_tracer("test").start_as_current_span("work") as span:
        inside = json.loads(render("json", record("infrastructure.sse.handler", "published")))
    outside = json.loads(render("json", record("infrastructure.sse.handler", "published")))
    context = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert "trace_id" not in outside
    assert "span_id" not in outside


def test_access_lines_are_redacted_and_carry_the_request_line_as_fields() -> None:
    entry = json.loads(render("json", access_record("/api/v1/events?categories=reports&ticket=s3cr3t-T1cket")))
    assert "s3cr3t-T1cket" not in json.dumps(entry)
    assert entry["path"] == "/api/v1/events?categories=reports&ticket=[redacted]"
    assert (entry["method"], entry["status"], entry["client"]) == ("GET", 200, "127.0.0.1:5")
    assert "ticket=[redacted]" in entry["event"]


def test_uvicorns_coloured_copy_of_the_message_is_left_out() -> None:
    entry = json.loads(render("json", record("uvicorn.error", "Started", color_message="\x1b[1mStarted\x1b[0m")))
    assert "color_message" not in entry


def test_exceptions_become_structured_tracebacks_in_json() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("herald", logging.ERROR, __file__, 1, "failed", (), exc_info=sys.exc_info())
    entry = json.loads(render("json", failed))
    assert entry["exception"][0]["exc_type"] == "ValueError"


def test_console_lines_are_readable_not_json() -> None:
    with structlog.contextvars.bound_contextvars(request_id="req-7"):
        line = render("console", access_record("/api/v1/events?ticket=s3cr3t-T1cket"))
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    assert "GET /api/v1/events?ticket=[redacted]" in line
    assert "request_id=req-7" in line
    assert "s3cr3t-T1cket" not in line


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_the_process_configuration_routes_uvicorn_and_litestar_to_the_one_handler(log_format: LogFormat) -> None:
    config = logging_config(log_format, "DEBUG")
    assert config["root"] == {"level": "DEBUG", "handlers": ["stderr"]}
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar"):
        assert config["loggers"][name] == {"handlers": [], "propagate": True}
