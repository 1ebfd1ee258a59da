"""The one cattrs converter that owns Herald's JSON: payloads, and SSE events between processes."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

import orjson
from cattrs.gen import make_dict_unstructure_fn, override
from cattrs.preconf.orjson import OrjsonConverter, make_converter

from domain.events import ENVELOPE_FIELDS, DomainEvent
from domain.sse import SSECategory, SSEEvent

T = TypeVar("T")


def _make_converter() -> OrjsonConverter:
    converter = make_converter()
    converter.register_unstructure_hook(UUID, str)
    converter.register_structure_hook(UUID, lambda value, _: UUID(value))
    converter.register_unstructure_hook(datetime, datetime.isoformat)
    converter.register_structure_hook(datetime, lambda value, _: datetime.fromisoformat(value))
    # An event for no group (most of them) says nothing of groups: every process reads less. A message
    # without a commit time (written before it was carried, or a stream signal) stays valid: it reads as None.
    converter.register_unstructure_hook(
        SSEEvent,
        make_dict_unstructure_fn(
            SSEEvent,
            converter,
            group=override(omit_if_default=True),
            committed_at=override(omit_if_default=True),
        ),
    )
    return converter


def _data_json(data: Mapping[str, Any], event_id: str, occurred_at: str) -> bytes:
    return orjson.dumps({**data, "event_id": event_id, "occurred_at": occurred_at})


class RelayedEvent(NamedTuple):
    """What a subscriber needs of a published event to forward it to its streams (a tuple: one per message)."""

    event_type: str
    category: SSECategory
    data_json: bytes
    occurred_at: datetime
    user_id: str | None
    """The user it is addressed to, besides its group (a group's streams of that user skip the group's copy)."""
    data: Mapping[str, Any]
    """The payload, as read (what the stream's own signals carry is read from it)."""
    event_id: str = ""
    committed_at: float | None = None
    """When its change committed (Unix seconds), if the message says: the start of its delivery latency."""
    trace: dict[str, str] | None = None
    """The W3C context of the trace it was published in (``traceparent``), if it was."""


class WireFormat:
    """JSON for everything Herald sends: SSE ``data:`` objects and broker messages.

    Keeping one converter means the embedded broker and Redis produce the same
    bytes, and a type a fork adds to its events needs one hook, here.
    """

    def __init__(self) -> None:
        self._converter = _make_converter()

    def default_payload(self, event: DomainEvent) -> dict[str, Any]:
        """Every field of ``event`` except its envelope, as JSON-ready values."""
        data: dict[str, Any] = self._converter.unstructure(event)
        for name in ENVELOPE_FIELDS:
            data.pop(name, None)
        return data

    def json_ready(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Turn a hand-written payload (which may hold UUIDs, datetimes, attrs objects) into JSON types."""
        result: dict[str, Any] = self._converter.unstructure(dict(payload))
        return result

    def data_json(self, event: SSEEvent) -> bytes:
        """The JSON object of the ``data:`` line: the payload plus ``event_id`` and ``occurred_at``."""
        return _data_json(event.data, str(event.event_id), event.occurred_at.isoformat())

    def dumps(self, value: object) -> bytes:
        """Serialise any attrs value Herald stores (a ticket's principal, say)."""
        return self._converter.dumps(value)

    def loads(self, raw: bytes | str, kind: type[T]) -> T:
        """Read a value written by :meth:`dumps`."""
        return self._converter.loads(raw, kind)

    def dumps_event(self, event: SSEEvent, trace: Mapping[str, str] | None = None) -> bytes:
        """Serialise an SSE event for another process, with the W3C context of its trace when it has one.

        The context is a field of the message, not of the event: a reader that
        does not trace (or an older process) passes over it.
        """
        if trace is None:
            return self._converter.dumps(event)
        return orjson.dumps({**self._converter.unstructure(event), "trace": trace})

    def loads_event(self, raw: bytes | str) -> SSEEvent:
        """Read an SSE event written by :meth:`dumps_event`."""
        return self._converter.loads(raw, SSEEvent)

    def relay(self, raw: bytes | str) -> RelayedEvent:
        """Read an event written by :meth:`dumps_event` only as far as forwarding it needs.

        Every live event passes through here once per process (and every
        replayed one once per resume), so it skips
        rebuilding the UUIDs and the payload that :meth:`loads_event` would
        structure only for :meth:`data_json` to turn back into the same text;
        a property test holds the two paths to the same bytes.
        """
        fields = orjson.loads(raw)
        event_type, data, event_id, occurred_at = (
            fields["event_type"],
            fields["data"],
            fields["event_id"],
            fields["occurred_at"],
        )
        if not (isinstance(event_type, str) and isinstance(data, dict) and isinstance(event_id, str)):
            raise ValueError("not an SSE event written by this wire format")
        committed_at = fields.get("committed_at")
        return RelayedEvent(
            event_type,
            SSECategory(fields["category"]),
            _data_json(data, event_id, occurred_at),
            datetime.fromisoformat(occurred_at),
            fields.get("user_id"),
            data,
            event_id,
            datetime.fromisoformat(committed_at).timestamp() if isinstance(committed_at, str) else None,
            trace if isinstance(trace := fields.get("trace"), dict) else None,
        )
