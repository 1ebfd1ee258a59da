"""The wire encoder against the conformance checklist, parsed back by an independent parser."""

import json

import pytest

from herald_contracts import parse_sse
from infrastructure.sse.wire import (
    HEARTBEAT,
    UnsafeFieldError,
    encode_comment,
    encode_json_message,
    encode_message,
    encode_retry,
)


@pytest.mark.parametrize(
    "data",
    [
        "one line",
        "two\nlines",
        "carriage\rreturn",
        "windows\r\nline",
        "",
        " leading space",
        "trailing newline\n",
        "\n\n",
        "mixed\r\n\r\n\rend",
        "tab\tand unicode ✓ 𝄞",
    ],
)
def test_data_lines_arrive_back_with_every_break_as_lf(data: str) -> None:
    # The format joins data lines with LF, so a raw CR cannot survive as CR; that is why
    # Herald's payloads are JSON, where CR is escaped (next test) and comes back identical.
    encoded = encode_message(data=data, event="report.progress", event_id="abc-1")
    assert encoded.endswith(b"\n\n")
    [event] = parse_sse(encoded)
    expected = data.replace("\r\n", "\n").replace("\r", "\n")
    assert (event.data, event.event, event.id) == (expected, "report.progress", "abc-1")


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb", "a\x00b"])
def test_event_and_id_cannot_carry_line_breaks_or_nul(bad: str) -> None:
    with pytest.raises(UnsafeFieldError):
        encode_message(data="x", event=bad)
    with pytest.raises(UnsafeFieldError):
        encode_message(data="x", event_id=bad)
    with pytest.raises(UnsafeFieldError):
        encode_json_message(event="ok.type", data_json=b"{}", event_id=bad)


def test_json_messages_keep_payload_line_breaks_inside_the_json() -> None:
    payload = {"text": "line\r\nbreak\rand\nmore", "nul": "\x00"}
    encoded = encode_json_message(event="report.progress", data_json=json.dumps(payload).encode(), event_id="e-7")
    [event] = parse_sse(encoded)
    assert json.loads(event.data) == payload
    assert event.id == "e-7"


def test_comments_and_heartbeats_dispatch_nothing() -> None:
    assert parse_sse(encode_comment("hello\nworld") + HEARTBEAT) == []
    assert encode_comment("a\nb") == b": a\n: b\n\n"


def test_retry_is_digits_only() -> None:
    assert encode_retry(3000) == b"retry: 3000\n\n"
    [hint] = parse_sse(encode_retry(1500))
    assert hint.retry == 1500
    with pytest.raises(ValueError, match="non-negative"):
        encode_retry(-1)


def test_an_incomplete_trailing_message_is_discarded_by_clients() -> None:
    complete = encode_message(data="kept", event_id="1")
    assert [e.data for e in parse_sse(complete + b"data: lost")] == ["kept"]
