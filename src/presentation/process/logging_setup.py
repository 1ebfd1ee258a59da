"""Logging for ``herald run``: every line structured (JSON or readable), and no credential in any log.

The code logs with the standard library (``logging.getLogger(__name__)``), so
no layer depends on the logging library; structlog's ``ProcessorFormatter``
renders every record — Herald's, uvicorn's access and error logs, Litestar's —
through one chain that adds the timestamp, the level, the logger name, the
request id bound for the current request, the ids of the current trace and
span (when tracing is on) and any ``extra=`` fields.

Tracebacks are rendered without local variables: a frame's locals hold the
ASGI scope, and with it the caller's headers and cookies. Whatever still
carries a credential is rewritten by :func:`~presentation.process.log_redaction.redact_secrets`,
the last step before a line is written.
"""

import logging
import logging.config
import sys
from typing import Any

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

from infrastructure.settings import LogFormat
from presentation.process.log_redaction import redact_secrets


def _drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # uvicorn passes an ANSI-coloured copy of its message as an extra; the message itself is enough.
    event_dict.pop("color_message", None)
    return event_dict


def _trace_ids(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # The ids of the span current where the line was logged (tracing on, within a traced request or delivery),
    # as a trace backend shows them: the line is found from the trace, and the trace from the line.
    # OpenTelemetry is imported only once tracing is on; before, no span can be current.
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return event_dict
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


def _shared_processors() -> list[Processor]:
    """What every record gets, whether it comes from ``logging`` or from structlog."""
    return [
        structlog.contextvars.merge_contextvars,
        _trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _access_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # uvicorn's access-log record carries the request line as arguments: give them as fields too.
    args = event_dict.pop("positional_args", ())
    record = event_dict.get("_record")
    if getattr(record, "name", None) == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        client, method, path, _version, status = args
        event_dict.update(client=client, method=method, path=path, status=status)
    return event_dict


def structured_formatter(log_format: LogFormat) -> structlog.stdlib.ProcessorFormatter:
    """Renders standard-library records (and structlog's) as JSON objects or readable lines."""
    if log_format == "json":
        tracebacks: Processor = ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        renderer: Processor = structlog.processors.JSONRenderer()
    else:
        tracebacks = structlog.processors.format_exc_info  # plain text: no locals, no rich rendering
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), _access_fields],
        pass_foreign_args=True,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, tracebacks, redact_secrets, renderer],
    )


def logging_config(log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """A ``dictConfig`` document: one stderr handler on the root logger, every other logger propagating to it."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": structured_formatter, "log_format": log_format}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "structured",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "litestar")
        },
    }


def configure_logging(log_format: LogFormat, level: str = "INFO") -> None:
    """Route the standard library and structlog through the same formatter (for the whole process)."""
    logging.config.dictConfig(logging_config(log_format, level))
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
