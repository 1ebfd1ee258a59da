"""Events the stream itself emits, outside the registry (reserved ``stream.`` prefix)."""

import enum
from uuid import UUID

import orjson

from domain.ids import new_event_id, utc_now
from domain.sse import Group, SSECategory, SSEEvent
from infrastructure.sse.framing import encode_json_body, encode_json_message

RESET_EVENT_TYPE = "stream.reset"
END_EVENT_TYPE = "stream.end"
UNWATCHED_EVENT_TYPE = "stream.unwatched"


class ResetReason(enum.Enum):
    """Why a resume could not continue exactly after the client's last id."""

    RETENTION_EXCEEDED = "retention_exceeded"
    """Events after the id were already dropped from retention."""
    UNKNOWN_POSITION = "unknown_position"
    """The id is well-formed but not from this broker's history (restart, other deployment)."""
    MALFORMED = "malformed"
    """The id is not one this service hands out."""
    RETENTION_DISABLED = "retention_disabled"
    """Nothing is kept, so nothing can be replayed."""
    GROUPS_CHANGED = "groups_changed"
    """The stream is in other groups than the id was given for, or its user left one of them after the id
    and was let in again: it goes on live in those groups, without what they published in between."""


def reset_frame(reason: ResetReason, cursor: str) -> bytes:
    """The ``stream.reset`` message: the client may have missed events and should reload its state.

    It carries an ``id`` so the client's next reconnect resumes from here
    rather than repeating the signal.
    """
    data = {"reason": reason.value, "event_id": str(new_event_id()), "occurred_at": utc_now().isoformat()}
    return encode_json_message(event=RESET_EVENT_TYPE, data_json=orjson.dumps(data), event_id=cursor)


class EndNotice(enum.Enum):
    """Why the server is ending a stream, told to the client in a last ``stream.end`` event."""

    CREDENTIAL_EXPIRED = "credential_expired"
    """Re-authenticate, then reconnect."""
    SESSION_REVOKED = "session_revoked"
    """The session was logged out; do not reconnect with it."""
    SHUTDOWN = "shutdown"
    """This instance is stopping; reconnect (to another one) with the last id."""


def end_frame(notice: EndNotice) -> bytes:
    """The ``stream.end`` message. It has no ``id:``, so the client's last id stays the last event it got."""
    data = {"reason": notice.value, "event_id": str(new_event_id()), "occurred_at": utc_now().isoformat()}
    return encode_json_body(event=END_EVENT_TYPE, data_json=orjson.dumps(data))


def unwatched_event(user_id: UUID, group: Group) -> SSEEvent:
    """The ``stream.unwatched`` event: ``user_id`` left ``group``.

    It is published to the group itself, so it takes its place among the
    group's events: every process applies it after the events published
    before it and before those published after, live, after a lost pub/sub
    connection and on replay alike. Only the streams of ``user_id`` receive it
    (whatever their category filter), and they leave the group with it.
    """
    return SSEEvent(
        event_type=UNWATCHED_EVENT_TYPE,
        category=SSECategory.SYSTEM,
        data={"kind": group.kind.value, "id": group.id, "user_id": str(user_id)},
        user_id=None,
        group=group,
    )
