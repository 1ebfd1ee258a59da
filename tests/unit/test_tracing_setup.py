"""Tracing is off unless the SDK's variables name an exporter; then the SDK reads them itself."""

import os
import subprocess
import sys

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import DEFAULT_ON
from opentelemetry.trace import SpanKind

from infrastructure.tracing.sampler import RequestRooted
from infrastructure.tracing.setup import tracing_from_env
from infrastructure.tracing.tracing import Tracing

OTEL_VARIABLES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_SDK_DISABLED",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def exporters(tracing: Tracing) -> list[type]:
    processors = tracing.provider._active_span_processor._span_processors
    return [type(p.span_exporter) for p in processors if isinstance(p, BatchSpanProcessor)]


def shut(tracing: Tracing | None) -> Tracing:
    assert tracing is not None
    tracing.provider.shutdown()
    return tracing


@pytest.mark.parametrize("value", [None, "none", " None "])
def test_tracing_is_off_unless_an_exporter_is_named(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    if value is not None:
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", value)
    assert tracing_from_env() is None


def test_the_sdks_own_switch_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing_from_env() is None


@pytest.mark.parametrize(
    ("protocol", "exporter"), [(None, GrpcExporter), ("grpc", GrpcExporter), ("http/protobuf", HttpExporter)]
)
def test_otlp_goes_by_the_protocol_variable(
    monkeypatch: pytest.MonkeyPatch, protocol: str | None, exporter: type
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    if protocol is not None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    assert exporters(shut(tracing_from_env())) == [exporter]


def test_the_service_is_named_by_the_variable_or_else_by_its_own_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert shut(tracing_from_env()).provider.resource.attributes["service.name"] == "herald"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "notify-eu")
    assert shut(tracing_from_env()).provider.resource.attributes["service.name"] == "notify-eu"


def test_the_sampler_variable_decides_what_a_request_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    tracing = shut(tracing_from_env())
    with tracing.tracer.start_as_current_span("POST /x", kind=SpanKind.SERVER) as span:
        assert not span.is_recording()


def test_only_requests_start_a_trace() -> None:
    """Background work (a relay's poll, a presence lease) records nothing unless it continues a trace."""
    tracing = Tracing(TracerProvider(sampler=RequestRooted(DEFAULT_ON)))
    with tracing.tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as poll:
        assert not poll.is_recording()
    with tracing.tracer.start_as_current_span("POST /x", kind=SpanKind.SERVER) as request:
        assert request.is_recording()
        assert tracing.carrier() is not None
        with tracing.span("herald.commit") as commit:
            assert commit.is_recording()


def test_off_nothing_of_the_sdk_is_imported_or_built() -> None:
    """Built as ``herald run`` builds it, without the variables: neither Herald's tracing nor the SDK's tracer.

    (The OpenTelemetry API may be: redis-py imports it for metrics of its own once the SDK is installed, and
    Litestar looks for its plugin as an app is built.)
    """
    script = (
        "import sys\n"
        "from infrastructure.container import Container\n"
        "from presentation.http.app import create_app\n"
        "container = Container()\n"
        "create_app(container)\n"
        "assert container.tracing() is None\n"
        "tracing = ('infrastructure.tracing.tracing', 'opentelemetry.sdk.trace')\n"
        "loaded = [m for m in tracing if m in sys.modules]\n"
        "print(loaded)\n"
    )
    environment = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
