"""Credentials that can appear in URLs never reach the logs."""

import logging

import pytest

from presentation.logging_setup import RedactCredentials, install_redaction


def access_line(path: str) -> logging.LogRecord:
    # The shape of uvicorn's access-log record: the request line is an argument.
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", path, "1.1", 200),
        None,
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events?ticket=s3cr3t-T1cket",
        "/api/v1/events?categories=reports&ticket=s3cr3t-T1cket&last_event_id=1-2",
        "/anything?access_token=s3cr3t-T1cket",
        "/anything?TOKEN=s3cr3t-T1cket",
    ],
)
def test_credentials_in_query_strings_are_masked(path: str) -> None:
    record = access_line(path)
    assert RedactCredentials().filter(record)
    message = record.getMessage()
    assert "s3cr3t-T1cket" not in message
    assert "=[redacted]" in message
    assert "/api/v1/events" in message or "/anything" in message


def test_other_parameters_are_kept() -> None:
    record = access_line("/api/v1/events?categories=reports&last_event_id=1-2_3-4")
    RedactCredentials().filter(record)
    assert "categories=reports&last_event_id=1-2_3-4" in record.getMessage()


def test_the_filter_is_installed_once_on_uvicorns_loggers() -> None:
    install_redaction()
    install_redaction()
    for name in ("uvicorn.access", "uvicorn.error"):
        filters = [f for f in logging.getLogger(name).filters if isinstance(f, RedactCredentials)]
        assert len(filters) == 1
