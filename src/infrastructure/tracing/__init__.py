"""OpenTelemetry tracing: off by default, on with the SDK's standard variables (docs/architecture/observability.md)."""

from infrastructure.tracing.tracing import Carrier, Tracing

__all__ = ["Carrier", "Tracing"]
