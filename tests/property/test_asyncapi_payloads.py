"""The AsyncAPI payload schemas accept exactly what the stream sends.

Events are generated from their attrs field types, transformed by the SSE
handler and written by the wire format; the resulting ``data:`` object and
SSE fields must validate against the schemas of their message. A fork's event
using every supported field type, and a custom payload, are covered the same way.
"""

import enum
import json
import types
import typing
import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.events import DomainEvent
from domain.registry import REGISTRY, DomainToSSEMapping, EventRegistry
from domain.sse import SSECategory, SSEEvent
from infrastructure.asyncapi import asyncapi_document
from infrastructure.sse.handler import SSEEventHandler
from infrastructure.sse.wire import encode_json_message
from infrastructure.sse.wire_format import WireFormat
from tests.property.test_registry_mappings import mapping_and_event
from tests.support.asyncapi import asyncapi_errors, payload_validator
from tests.support.fakes import RecordingPublisher
from tests.support.sse import parse_sse

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


def values_of(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of a field type, narrowed to what the wire format can send (finite floats, 64-bit ints, aware times)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is int:
        return st.integers(min_value=-(2**63), max_value=2**63 - 1)
    if annotation is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if annotation is datetime:
        return st.datetimes(timezones=st.just(UTC))
    if attrs.has(annotation):
        return st.builds(annotation, **{f.name: values_of(f.type) for f in attrs.fields(annotation)})
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(values_of(arg) for arg in args))
    if origin is list:
        return st.lists(values_of(args[0]), max_size=4)
    if origin is frozenset:
        return st.frozensets(values_of(args[0]), max_size=4)
    if origin is tuple:
        if args[-1] is Ellipsis:
            return st.lists(values_of(args[0]), max_size=4).map(tuple)
        return st.tuples(*(values_of(arg) for arg in args))
    if origin is dict:
        return st.dictionaries(values_of(args[0]), values_of(args[1]), max_size=4)
    return st.from_type(annotation)


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
    assert set(FORK_DOCUMENT["components"]["schemas"]) == {"Attachment"}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(values_of(InvoiceIssued), st.sampled_from(list(FORK)))
def test_every_supported_type_is_sent_as_its_schema_says(event: InvoiceIssued, mapping: DomainToSSEMapping) -> None:
    sse = SSEEventHandler(FORK, RecordingPublisher(), WIRE).transform(mapping, event).event
    check_delivery(FORK_DOCUMENT, mapping, sse, "0badcafe-1")


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
    event = mapping.domain_event(report_id=uuid.uuid4(), owner_id=uuid.uuid4(), title="Q3")  # type: ignore[call-arg]
    sse = SSEEventHandler(REGISTRY, RecordingPublisher(), WIRE).transform(mapping, event).event
    data = json.loads(WIRE.data_json(sse))
    validator = payload_validator(
        REGISTRY_DOCUMENT["components"]["messages"]["report.requested"]["payload"], REGISTRY_DOCUMENT
    )
    assert list(validator.iter_errors(data)) == []
    edit(data)
    assert list(validator.iter_errors(data)), why
