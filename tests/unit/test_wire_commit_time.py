"""The commit time travels with an SSE event between processes; a message without it stays valid."""

import uuid
from datetime import UTC, datetime

import orjson

from domain.sse import SSECategory, SSEEvent
from infrastructure.sse.wire_format import WireFormat

WIRE = WireFormat()


def an_event(committed_at: datetime | None) -> SSEEvent:
    return SSEEvent(
        event_type="report.progress",
        category=SSECategory.REPORTS,
        data={"percent": 50},
        user_id=uuid.uuid4(),
        committed_at=committed_at,
    )


def test_the_commit_time_is_read_back_by_both_paths() -> None:
    committed = datetime(2026, 12, 8, 0, 16, 2, 588000, tzinfo=UTC)
    raw = WIRE.dumps_event(an_event(committed))

    assert WIRE.loads_event(raw).committed_at == committed
    assert WIRE.relay(raw).committed_at == committed.timestamp()


def test_a_message_without_it_is_read_as_untimed_and_says_nothing_of_it() -> None:
    raw = WIRE.dumps_event(an_event(None))
    older = orjson.dumps({k: v for k, v in orjson.loads(raw).items() if k != "committed_at"})

    assert b"committed_at" not in raw  # omitted when unknown, as a process of an older version writes it
    assert WIRE.loads_event(older).committed_at is None
    assert WIRE.relay(older).committed_at is None
    assert WIRE.relay(older).data_json == WIRE.relay(raw).data_json
