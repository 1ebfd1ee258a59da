"""The wire encoder against the conformance checklist, parsed back by an independent parser."""

import json

import pytest

from herald_contracts import parse_sse
from infrastructure.sse.framing import (
    HEARTBEAT,
    UnsafeFieldError,
    encode_json_message,
    encode_retry,
)


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb", "a\x00b"])
def test_event_and_id_cannot_carry_line_breaks_or_nul(bad: str) -> None:
    with pytest.raises(UnsafeFieldError):
        encode_json_message(event=bad, data_json=b"{}", event_id="1")
    with pytest.raises(UnsafeFieldError):
        encode_json_message(event="ok.type", data_json=b"{}", event_id=bad)


def test_json_messages_keep_payload_line_breaks_inside_the_json() -> None:
    payload = {"text": "line\r\nbreak\rand\nmore", "nul": "\x00"}
    encoded = encode_json_message(event="report.progress", data_json=json.dumps(payload).encode(), event_id="e-7")
    [event] = parse_sse(encoded)
    assert json.loads(event.data) == payload
    assert event.id == "e-7"


def test_heartbeats_dispatch_nothing() -> None:
    assert parse_sse(HEARTBEAT + HEARTBEAT) == []


def test_retry_is_digits_only() -> None:
    assert encode_retry(3000) == b"retry: 3000\n\n"
    [hint] = parse_sse(encode_retry(1500))
    assert hint.retry == 1500
    with pytest.raises(ValueError, match="non-negative"):
        encode_retry(-1)


def test_an_incomplete_trailing_message_is_discarded_by_clients() -> None:
    complete = encode_json_message(event="x.y", data_json=b'"kept"', event_id="1")
    assert [e.data for e in parse_sse(complete + b"data: lost")] == ['"kept"']
