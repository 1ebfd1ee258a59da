"""The stream's own messages in the document: ``stream.reset``, ``stream.end`` and ``stream.unwatched``."""

from domain.sse.groups import GROUP_ID_PATTERN, GroupKind
from infrastructure.asyncapi.frames import ENVELOPE_SCHEMA, payload_name, sse_fields
from infrastructure.asyncapi.schemas import JsonSchema, SchemaBuilder
from infrastructure.streams.signals import (
    END_EVENT_TYPE,
    RESET_EVENT_TYPE,
    UNWATCHED_EVENT_TYPE,
    EndNotice,
    ResetReason,
)

#: The tag of the stream's own messages, sent whatever categories the client asked for.
STREAM_TAG = "stream"


def signal_messages(schemas: SchemaBuilder) -> dict[str, JsonSchema]:
    """The message of each signal, by its SSE event name."""
    return {
        RESET_EVENT_TYPE: _signal_message(
            RESET_EVENT_TYPE,
            "The client may have missed events and should reload its state.",
            "The `Last-Event-ID` could not be resumed exactly; `reason` says why. `groups_changed`: the "
            "stream is in other groups than the id was given for; the user's own events and broadcasts were "
            "resumed exactly, and each group goes on live from here (reload what you hold of the groups). "
            "It carries an `id:`, so the next reconnect resumes from here.",
            {"reason": schemas.reference(ResetReason, RESET_EVENT_TYPE)},
            schemas,
            resumable=True,
        ),
        END_EVENT_TYPE: _signal_message(
            END_EVENT_TYPE,
            "The server is ending the stream.",
            "`credential_expired`: re-authenticate, then reconnect. `session_revoked`: do not reconnect "
            "with this session. `shutdown`: reconnect (to another instance) with the last id. "
            "It has no `id:`, so the last id stays that of the last event received.",
            {"reason": schemas.reference(EndNotice, END_EVENT_TYPE)},
            schemas,
            resumable=False,
        ),
        UNWATCHED_EVENT_TYPE: _signal_message(
            UNWATCHED_EVENT_TYPE,
            "The stream receives nothing more of a group it watched.",
            "The user may no longer see the group (the report's owner stopped sharing it): nothing more of "
            "it follows. Drop `kind:id` from the `watch` parameters of the next connection, which would be "
            "refused (404) otherwise. It carries an `id:`, the stream's position without the group.",
            {
                "kind": schemas.reference(GroupKind, UNWATCHED_EVENT_TYPE),
                "id": {
                    "type": "string",
                    "pattern": f"^{GROUP_ID_PATTERN.pattern}$",
                    "description": "The group's id (a report's UUID).",
                },
                "user_id": {"type": "string", "format": "uuid", "description": "The user who left the group."},
            },
            schemas,
            resumable=True,
        ),
    }


def _signal_message(
    name: str,
    summary: str,
    description: str,
    properties: dict[str, JsonSchema],
    schemas: SchemaBuilder,
    *,
    resumable: bool,
) -> JsonSchema:
    return {
        "name": name,
        "title": name,
        "summary": summary,
        "description": description,
        "contentType": "application/json",
        "tags": [{"name": STREAM_TAG}],
        "headers": sse_fields(name, resumable=resumable),
        "payload": schemas.named(
            payload_name(name),
            {
                "description": summary,
                "type": "object",
                "properties": {**properties, **ENVELOPE_SCHEMA},
                "required": [*properties, *ENVELOPE_SCHEMA],
                "additionalProperties": False,
            },
            where=f"SSE event {name!r}",
        ),
    }
