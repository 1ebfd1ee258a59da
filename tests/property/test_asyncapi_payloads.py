"""The AsyncAPI payload schemas accept exactly what the stream sends.

Events are generated from their attrs field types, transformed by the SSE
handler and written by the wire format; the resulting ``data:`` object and
SSE fields must validate against the schemas of their message. A fork's event
using every supported field type, and a custom payload, are covered the same way.
"""

import enum
import json
import uuid
from datetime import date, datetime
from typing import Any, Literal

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.streams import MAX_LAST_EVENT_ID_LENGTH
from domain.events import DomainEvent
from domain.registry import REGISTRY, DomainToSSEMapping, EventRegistry
from domain.sse import Group, GroupKind, SSECategory, SSEEvent
from domain.sse.groups import GROUP_ID_PATTERN
from herald_contracts import MappingContracts, RecordingPublisher, parse_sse
from infrastructure.asyncapi import asyncapi_document
from infrastructure.sse.framing import encode_json_message
from infrastructure.sse.handler import SSEEventHandler
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.signals import EndNotice, ResetReason, end_frame, reset_frame, unwatched_event
from tests.support.asyncapi import asyncapi_errors, payload_validator

WIRE = WireFormat()


class Priority(enum.StrEnum):
    LOW = "low"
    URGENT = "urgent"


class Level(enum.IntEnum):
    ONE = 1
    TWO = 2


@attrs.frozen
class Attachment:
    name: str
    size: int
    checksum: str | None


@attrs.frozen(kw_only=True)
class InvoiceIssued(DomainEvent):
    """A fork's event with every field type the document supports."""

    user_id: uuid.UUID
    amount: float
    paid: bool
    due: date
    issued: datetime
    priority: Priority
    level: Level
    kind: Literal["one-off", "recurring"]
    note: str | None
    labels: frozenset[str]
    attachments: list[Attachment]
    totals: dict[str, int]
    by_user: dict[uuid.UUID, Priority]
    pair: tuple[int, str]
    history: tuple[datetime, ...]
    parent: Attachment | None


@attrs.frozen
class InvoiceSummary:
    count: int
    first: Attachment | None


FORK = EventRegistry(
    [
        DomainToSSEMapping(
            domain_event=InvoiceIssued,
            sse_event_type="invoice.issued",
            category=SSECategory.REPORTS,
            description="An invoice was issued.",
            shares_domain_event=True,
        ),
        DomainToSSEMapping(
            domain_event=InvoiceIssued,
            sse_event_type="invoice.summary",
            category=SSECategory.REPORTS,
            description="A summary of an issued invoice.",
            payload_extractor=lambda e: {"count": len(e.attachments), "first": next(iter(e.attachments), None)},
            payload_type=InvoiceSummary,
            shares_domain_event=True,
        ),
    ]
)


#: The contract kit's event strategies, for the sample registry and for the fork's every-type event.
SAMPLE_EVENTS = MappingContracts(REGISTRY)
FORK_EVENTS = MappingContracts(FORK)


def mapping_and_event() -> st.SearchStrategy[tuple[DomainToSSEMapping, DomainEvent]]:
    return st.sampled_from(list(REGISTRY)).flatmap(
        lambda m: st.tuples(st.just(m), SAMPLE_EVENTS.events_of(m.domain_event))
    )


def check_delivery(document: dict[str, Any], mapping: DomainToSSEMapping, sse: SSEEvent, position: str) -> None:
    """The frame as a client parses it validates against the message's headers and payload schemas."""
    message_schema = document["components"]["messages"][mapping.sse_event_type]
    [frame] = parse_sse(encode_json_message(event=sse.event_type, data_json=WIRE.data_json(sse), event_id=position))
    payload = payload_validator(message_schema["payload"], document)
    headers = payload_validator(message_schema["headers"], document)
    data = json.loads(frame.data)
    assert list(payload.iter_errors(data)) == [], data
    assert list(headers.iter_errors({"event": frame.event, "id": frame.id})) == []


REGISTRY_DOCUMENT = asyncapi_document(REGISTRY)
FORK_DOCUMENT = asyncapi_document(FORK)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mapping_and_event(), st.integers(min_value=1, max_value=2**62))
def test_every_registry_payload_matches_its_message_schema(
    case: tuple[DomainToSSEMapping, DomainEvent], seq: int
) -> None:
    mapping, event = case
    sse = SSEEventHandler(REGISTRY, RecordingPublisher(), WIRE).transform(mapping, event).event
    check_delivery(REGISTRY_DOCUMENT, mapping, sse, f"0badcafe-{seq}")


def test_a_fork_document_with_every_supported_type_is_valid() -> None:
    assert asyncapi_errors(FORK_DOCUMENT) == []
    # Every payload, and each attrs class and enum inside one, is a named schema a code generator names its type after.
    assert set(FORK_DOCUMENT["components"]["schemas"]) == {
        "InvoiceIssuedPayload",
        "InvoiceSummaryPayload",
        "Attachment",
        "Level",
        "Priority",
        "StreamResetPayload",
        "ResetReason",
        "StreamEndPayload",
        "EndNotice",
        "StreamUnwatchedPayload",
        "GroupKind",
    }


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(FORK_EVENTS.events_of(InvoiceIssued), st.sampled_from(list(FORK)))
def test_every_supported_type_is_sent_as_its_schema_says(event: InvoiceIssued, mapping: DomainToSSEMapping) -> None:
    sse = SSEEventHandler(FORK, RecordingPublisher(), WIRE).transform(mapping, event).event
    check_delivery(FORK_DOCUMENT, mapping, sse, "0badcafe-1")


def check_signal(frame_bytes: bytes) -> None:
    """A frame of the stream's own, as a client parses it, validates against its message's schemas."""
    [frame] = parse_sse(frame_bytes)
    message_schema = REGISTRY_DOCUMENT["components"]["messages"][frame.event]
    data = json.loads(frame.data)
    assert list(payload_validator(message_schema["payload"], REGISTRY_DOCUMENT).iter_errors(data)) == [], data
    fields = {"event": frame.event} | ({"id": frame.id} if frame.id else {})
    assert list(payload_validator(message_schema["headers"], REGISTRY_DOCUMENT).iter_errors(fields)) == []


#: Stream ids as long as the stream takes: printable ASCII without spaces.
STREAM_IDS = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=MAX_LAST_EVENT_ID_LENGTH
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.uuids(),
    st.sampled_from(list(GroupKind)),
    st.from_regex(GROUP_ID_PATTERN, fullmatch=True),
    STREAM_IDS,
)
def test_stream_unwatched_is_sent_as_its_schema_says(user: uuid.UUID, kind: GroupKind, group_id: str, at: str) -> None:
    body = WIRE.data_json(unwatched_event(user, Group(kind, group_id)))
    check_signal(encode_json_message(event="stream.unwatched", data_json=body, event_id=at))


@given(st.sampled_from(list(ResetReason)), st.sampled_from(list(EndNotice)), STREAM_IDS)
def test_stream_reset_and_stream_end_are_sent_as_their_schemas_say(
    reason: ResetReason, notice: EndNotice, at: str
) -> None:
    check_signal(reset_frame(reason, at))
    check_signal(end_frame(notice))


@pytest.mark.parametrize(
    ("why", "edit"),
    [
        ("a field is missing", lambda d: d.pop("title")),
        ("an undeclared field", lambda d: d.update(extra=1)),
        ("not a UUID", lambda d: d.update(report_id="not-a-uuid")),
        ("a naive timestamp", lambda d: d.update(occurred_at="2025-01-01T00:00:00")),
        ("a wrong type", lambda d: d.update(title=3)),
    ],
)
def test_a_payload_that_differs_from_its_schema_is_rejected(why: str, edit: Any) -> None:
    [mapping] = [m for m in REGISTRY if m.sse_event_type == "report.requested"]
    event = mapping.domain_event(report_id=uuid.uuid4(), owner_id=uuid.uuid4(), version=1, title="Q3")  # type: ignore[call-arg]
    sse = SSEEventHandler(REGISTRY, RecordingPublisher(), WIRE).transform(mapping, event).event
    data = json.loads(WIRE.data_json(sse))
    validator = payload_validator(
        REGISTRY_DOCUMENT["components"]["messages"]["report.requested"]["payload"], REGISTRY_DOCUMENT
    )
    assert list(validator.iter_errors(data)) == []
    edit(data)
    assert list(validator.iter_errors(data)), why
