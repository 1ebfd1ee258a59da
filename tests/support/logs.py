"""Render log records the way ``herald run`` writes them."""

import io
import logging

from infrastructure.settings import LogFormat
from presentation.process.logging_setup import structured_formatter


def render(log_format: LogFormat, record: logging.LogRecord) -> str:
    """What the process's stderr handler writes for ``record``."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structured_formatter(log_format))
    handler.handle(record)
    return stream.getvalue()
