"""Tracing from the OpenTelemetry SDK's standard variables: off unless ``OTEL_TRACES_EXPORTER`` names an exporter.

The SDK reads every variable itself, as its own configurator (the one
``opentelemetry-instrument`` runs) does: the exporter from
``OTEL_TRACES_EXPORTER`` and ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL``, where it
sends from ``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` (and headers, timeout,
compression), the sampler from ``OTEL_TRACES_SAMPLER(_ARG)``, the resource
from ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``, the batching from
``OTEL_BSP_*``. ``OTEL_SDK_DISABLED=true`` turns it off whatever else is set.

The provider is Herald's, handed to the instrumentations and to its own
spans, not installed as the process's global one: an application built in
a test process next to others traces only what it does itself.
"""

import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from infrastructure.service_name import SERVICE

if TYPE_CHECKING:
    from infrastructure.tracing.tracing import Tracing

logger = logging.getLogger(__name__)


def _wanted() -> bool:
    """Whether the variables turn tracing on: the SDK's own rule, asked before the SDK is imported at all."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() not in ("", "none")


def tracing_from_env() -> "Tracing | None":
    """Tracing as the variables ask for it; None (and nothing of the SDK imported or built) when they do not."""
    if not _wanted():
        return None
    # The SDK's own reading of the variables (what its configurator runs), imported only now.
    from opentelemetry.sdk._configuration import (  # noqa: PLC0415
        _get_exporter_names,
        _get_sampler,
        _import_exporters,
        _import_sampler,
    )
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
    from opentelemetry.sdk.trace.sampling import DEFAULT_ON  # noqa: PLC0415

    from infrastructure.tracing.sampler import RequestRooted  # noqa: PLC0415
    from infrastructure.tracing.tracing import Tracing  # noqa: PLC0415

    span_exporters, _, _ = _import_exporters(_get_exporter_names("traces"), [], [])
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: SERVICE.slug}))
    provider = TracerProvider(resource=resource, sampler=RequestRooted(_import_sampler(_get_sampler()) or DEFAULT_ON))
    for exporter in span_exporters.values():
        provider.add_span_processor(BatchSpanProcessor(exporter()))
    logger.info(
        "tracing on: %s, sampler %s",
        ", ".join(span_exporters),
        provider.sampler.get_description(),
        extra={"exporters": list(span_exporters)},
    )
    return Tracing(provider)


def open_tracing() -> "Iterator[Tracing | None]":
    """The container's resource: tracing for the process's lifetime; what is still batched is sent at the end."""
    tracing = tracing_from_env()
    try:
        yield tracing
    finally:
        if tracing is not None:
            tracing.provider.shutdown()
