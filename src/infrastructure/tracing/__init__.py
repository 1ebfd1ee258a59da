"""OpenTelemetry tracing: off by default, on with the SDK's standard variables (docs/architecture/observability.md).

Nothing here is imported while tracing is off: the code that may trace names
:class:`~infrastructure.tracing.tracing.Tracing` for its types only, and
:mod:`~infrastructure.tracing.setup` imports the SDK once the variables ask for it.
"""
