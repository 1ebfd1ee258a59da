"""Requests as spans, by Litestar's OpenTelemetry plugin: the root of every trace Herald records.

A stream's request is left out: it lasts as long as the client stays, and a
span that ends hours later (with one more for every frame written) says
nothing a delivery span does not. Health checks are left out too: they come
every few seconds and carry no event.
"""

from typing import TYPE_CHECKING, Any

from litestar.plugins import InitPlugin

from presentation.http.request_ids import request_id_of

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

#: Paths (regular expressions) of requests that are not traced.
UNTRACED = ["^/api/v1/events$", "^/health$"]


def _name_request(span: "Span", scope: dict[str, Any]) -> None:
    # The id the response and the log lines carry, so a trace is found from either.
    if span.is_recording():
        span.set_attribute("herald.request_id", request_id_of(scope))  # type: ignore[arg-type]


def tracing_plugins(provider: "TracerProvider | None") -> list[InitPlugin]:
    """The plugin that traces requests with ``provider``; none (and nothing of it imported) without tracing."""
    if provider is None:
        return []
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin  # noqa: PLC0415

    config = OpenTelemetryConfig(
        tracer_provider=provider,
        exclude=UNTRACED,
        exclude_spans=["receive", "send"],
        server_request_hook_handler=_name_request,
    )
    return [OpenTelemetryPlugin(config)]
