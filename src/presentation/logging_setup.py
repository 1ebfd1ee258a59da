"""Logging for ``herald run``: readable lines, and no credential in any log."""

import logging
import re

_SECRET_IN_QUERY = re.compile(r"(?i)\b(ticket|token|access_token)=[^&\s\"]+")


class RedactCredentials(logging.Filter):
    """Masks credentials that can appear in a URL (stream tickets) in access-log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                _SECRET_IN_QUERY.sub(r"\1=[redacted]", arg) if isinstance(arg, str) else arg
                for arg in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        record.msg = _SECRET_IN_QUERY.sub(r"\1=[redacted]", str(record.msg))
        return True


def install_redaction() -> None:
    """Attach the filter to uvicorn's access and error loggers (idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(RedactCredentials())
