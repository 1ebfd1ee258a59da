"""The AsyncAPI document: valid AsyncAPI 3.0.0, complete, named for code generators, and derived from the
registry's field types."""

import copy
import enum
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Optional

import attrs
import pytest

from application.streams import MAX_LAST_EVENT_ID_LENGTH, MAX_WATCHES_CEILING
from domain.events import DomainEvent
from domain.registry import REGISTRY, DomainToSSEMapping, EventRegistry
from domain.sse import Group, GroupKind, SSECategory
from infrastructure.asyncapi import PayloadSchemaError, SchemaBuilder, asyncapi_document
from infrastructure.asyncapi.document import (
    CHANNEL,
    OPERATION,
    SECURITY_SCHEMES,
    SERVER,
    STREAM_ADDRESS,
    payload_name,
    server_object,
)
from infrastructure.settings import Settings, SettingsError
from infrastructure.streams.signals import (
    END_EVENT_TYPE,
    RESET_EVENT_TYPE,
    UNWATCHED_EVENT_TYPE,
    EndNotice,
    ResetReason,
)
from presentation.process.cli import main
from tests.support.asyncapi import asyncapi_errors, resolve_pointer

DOCUMENT = asyncapi_document(REGISTRY)
SIGNALS = (RESET_EVENT_TYPE, END_EVENT_TYPE, UNWATCHED_EVENT_TYPE)


def payload(document: dict[str, Any], event_type: str) -> dict[str, Any]:
    """The payload schema of ``event_type``'s message (a named component schema)."""
    schema = resolve_pointer(document, document["components"]["messages"][event_type]["payload"]["$ref"])
    assert isinstance(schema, dict)
    return schema


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Line:
    sku: str
    quantity: int


@attrs.frozen(kw_only=True)
class OrderShipped(DomainEvent):
    user_id: uuid.UUID
    lines: list[Line]


def test_the_document_is_valid_asyncapi_3() -> None:
    assert DOCUMENT["asyncapi"] == "3.0.0"
    assert asyncapi_errors(DOCUMENT) == []


def invalid_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    def changed(edit: Any) -> dict[str, Any]:
        document = copy.deepcopy(DOCUMENT)
        edit(document)
        return document

    yield "no info", changed(lambda d: d.pop("info"))
    yield "v2 action", changed(lambda d: d["operations"][OPERATION].update(action="publish"))
    yield "no channel", changed(lambda d: d["operations"][OPERATION].pop("channel"))
    yield "bad schema", changed(lambda d: d["components"]["messages"]["report.progress"].update(payload={"type": 5}))
    yield "unknown field", changed(lambda d: d["channels"][CHANNEL].update(publish={}))
    yield "bad security", changed(lambda d: d["components"]["securitySchemes"]["streamTicket"].update(**{"in": "body"}))


@pytest.mark.parametrize(("why", "document"), list(invalid_documents()), ids=lambda v: v if isinstance(v, str) else "")
def test_the_validator_rejects_invalid_documents(why: str, document: dict[str, Any]) -> None:
    assert asyncapi_errors(document), why


def refs(node: object) -> Iterator[str]:
    if isinstance(node, Mapping):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_reference_resolves_inside_the_document() -> None:
    found = list(refs(DOCUMENT))
    assert found
    for ref in found:
        resolve_pointer(DOCUMENT, ref)  # the AsyncAPI schema does not check this; a broken $ref fails here


def test_every_mapping_and_every_stream_signal_is_a_message_of_the_operation() -> None:
    messages = DOCUMENT["components"]["messages"]
    expected = [m.sse_event_type for m in REGISTRY] + list(SIGNALS)
    assert list(messages) == expected
    assert list(DOCUMENT["channels"][CHANNEL]["messages"]) == expected
    operation = DOCUMENT["operations"][OPERATION]
    assert [resolve_pointer(DOCUMENT, r["$ref"]) for r in operation["messages"]] == [
        {"$ref": f"#/components/messages/{name}"} for name in expected
    ]
    for mapping in REGISTRY:
        message = messages[mapping.sse_event_type]
        assert message["name"] == mapping.sse_event_type
        assert message["summary"] == mapping.description
        assert message["tags"] == [{"name": mapping.category.value}]
        assert message["x-herald-category"] == mapping.category.value
        assert message["headers"]["properties"]["event"]["const"] == mapping.sse_event_type
        assert {"event_id", "occurred_at"} <= set(payload(DOCUMENT, mapping.sse_event_type)["required"])
        assert mapping.receivers() in message["description"]


def test_every_event_says_who_receives_it_a_user_a_group_or_everyone() -> None:
    audience = {name: message.get("x-herald-audience") for name, message in DOCUMENT["components"]["messages"].items()}
    watchers = {"kind": GroupKind.REPORT.value, "field": "report_id"}
    present = {"kind": None, "kind_field": "group_kind", "field": "group_id"}
    assert audience == {
        "report.requested": {"everyone": False, "user": "owner_id", "group": watchers},
        "report.progress": {"everyone": False, "user": "owner_id", "group": watchers},
        "report.completed": {"everyone": False, "user": "owner_id", "group": watchers},
        "report.failed": {"everyone": False, "user": "owner_id", "group": watchers},
        "system.announcement": {"everyone": True, "user": None, "group": None},
        "tenant.announcement": {
            "everyone": False,
            "user": None,
            "group": {"kind": GroupKind.TENANT.value, "field": "tenant"},
        },
        "presence.joined": {"everyone": False, "user": None, "group": present},
        "presence.left": {"everyone": False, "user": None, "group": present},
        # The stream's own signals go to the stream they concern: no audience to state.
        RESET_EVENT_TYPE: None,
        END_EVENT_TYPE: None,
        UNWATCHED_EVENT_TYPE: None,
    }
    tenant = DOCUMENT["components"]["messages"]["tenant.announcement"]["description"]
    assert "the members of the tenant group in 'tenant'" in tenant


def test_every_payload_is_a_schema_named_after_its_event_type() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    for name in [m.sse_event_type for m in REGISTRY] + list(SIGNALS):
        ref = DOCUMENT["components"]["messages"][name]["payload"]["$ref"]
        assert ref == f"#/components/schemas/{payload_name(name)}"
        assert schemas[payload_name(name)]["title"] == payload_name(name)  # what a generator names the type
    assert payload_name("report.progress") == "ReportProgressPayload"
    assert payload_name("stream.reset") == "StreamResetPayload"
    assert payload_name("invoice_line.added") == "InvoiceLineAddedPayload"
    progress = next(m for m in REGISTRY if m.sse_event_type == "report.progress")
    assert payload(DOCUMENT, "report.progress")["description"] == progress.description


def test_two_event_types_whose_payloads_would_share_a_name_are_refused() -> None:
    mappings = [
        DomainToSSEMapping(
            domain_event=OrderShipped,
            sse_event_type=name,
            category=SSECategory.REPORTS,
            description=".",
            shares_domain_event=True,
        )
        for name in ("order.line_added", "order.line.added")
    ]
    with pytest.raises(PayloadSchemaError, match="'OrderLineAddedPayload'"):
        asyncapi_document(EventRegistry(mappings))


def test_the_stream_signals_list_every_reason() -> None:
    messages = DOCUMENT["components"]["messages"]
    reset = payload(DOCUMENT, RESET_EVENT_TYPE)["properties"]["reason"]
    end = payload(DOCUMENT, END_EVENT_TYPE)["properties"]["reason"]
    assert resolve_pointer(DOCUMENT, reset["$ref"]) == {
        "title": "ResetReason",
        "type": "string",
        "enum": [r.value for r in ResetReason],
    }
    assert resolve_pointer(DOCUMENT, end["$ref"]) == {
        "title": "EndNotice",
        "type": "string",
        "enum": [n.value for n in EndNotice],
    }
    assert "groups_changed" in [r.value for r in ResetReason]  # a watch added or gone: each group goes on live
    assert "id" in messages[RESET_EVENT_TYPE]["headers"]["required"]
    assert "id" not in messages[END_EVENT_TYPE]["headers"]["properties"]  # stream.end keeps the last id


def test_stream_unwatched_names_the_group_and_the_user_and_carries_an_id() -> None:
    message = DOCUMENT["components"]["messages"][UNWATCHED_EVENT_TYPE]
    schema = payload(DOCUMENT, UNWATCHED_EVENT_TYPE)
    assert schema["required"] == ["kind", "id", "user_id", "event_id", "occurred_at"]
    assert schema["additionalProperties"] is False
    assert resolve_pointer(DOCUMENT, schema["properties"]["kind"]["$ref"]) == {
        "title": "GroupKind",
        "type": "string",
        "enum": [kind.value for kind in GroupKind],
    }
    assert schema["properties"]["user_id"]["format"] == "uuid"
    group_id = re.compile(schema["properties"]["id"]["pattern"])
    assert group_id.search(str(uuid.uuid4()))
    assert not group_id.search("")
    assert not group_id.search("a" * 65)
    assert message["tags"] == [{"name": "stream"}]
    assert message["headers"]["required"] == ["event", "id"]  # the stream's position without the group


def test_every_id_may_be_as_long_as_a_last_event_id_the_stream_takes() -> None:
    for name, message in DOCUMENT["components"]["messages"].items():
        if "id" in message["headers"]["properties"]:
            assert message["headers"]["properties"]["id"]["maxLength"] == MAX_LAST_EVENT_ID_LENGTH, name
    http = DOCUMENT["operations"][OPERATION]["bindings"]["http"]
    assert http["query"]["properties"]["last_event_id"]["maxLength"] == MAX_LAST_EVENT_ID_LENGTH
    assert http["x-request-headers"]["properties"]["Last-Event-ID"]["maxLength"] == MAX_LAST_EVENT_ID_LENGTH


@pytest.mark.parametrize(
    ("watch", "valid"),
    [
        (f"report:{uuid.UUID(int=7)}", True),
        ("tenant:acme", True),
        ("report:a.b_c-d", True),
        ("report:" + "x" * 64, True),
        ("report:" + "x" * 65, False),
        ("report:", False),
        ("report", False),
        ("team:acme", False),
        ("report:a b", False),
        ("report:a:b", False),
        (" report:a", False),
    ],
)
def test_the_watch_parameter_takes_what_the_stream_reads_as_a_group(watch: str, valid: bool) -> None:
    schema = DOCUMENT["operations"][OPERATION]["bindings"]["http"]["query"]["properties"]["watch"]
    assert schema["type"] == "array"
    assert schema["maxItems"] == MAX_WATCHES_CEILING
    assert bool(re.search(schema["items"]["pattern"], watch)) is valid
    try:
        parsed = str(Group.parse(watch))
    except ValueError:
        parsed = None
    assert (parsed == watch) is valid  # the pattern and the stream's parser agree


def test_the_operation_describes_the_http_request_and_its_credentials() -> None:
    channel = DOCUMENT["channels"][CHANNEL]
    operation = DOCUMENT["operations"][OPERATION]
    assert channel["address"] == STREAM_ADDRESS
    assert operation["action"] == "send"  # the document describes Herald, which sends; clients receive
    assert DOCUMENT["components"]["securitySchemes"]["httpBearerToken"] == SECURITY_SCHEMES["httpBearerToken"]
    assert [s["$ref"].rsplit("/", 1)[1] for s in operation["security"]] == list(SECURITY_SCHEMES)
    http = operation["bindings"]["http"]
    assert http["method"] == "GET"
    assert set(http["query"]["properties"]) == {"categories", "last_event_id", "ticket", "watch"}
    assert all(c.value in http["query"]["properties"]["categories"]["description"] for c in SSECategory)
    assert "Last-Event-ID" in http["x-request-headers"]["properties"]
    assert "Last-Event-ID" in channel["description"]
    assert "?watch=report:<id>" in channel["description"]


def test_a_default_payload_is_every_field_but_the_envelope_plus_the_wire_envelope() -> None:
    schema = payload(DOCUMENT, "report.requested")
    assert schema["required"] == ["report_id", "owner_id", "version", "title", "event_id", "occurred_at"]
    assert schema["properties"]["report_id"] == {"type": "string", "format": "uuid"}
    assert schema["properties"]["occurred_at"]["format"] == "date-time"
    assert schema["additionalProperties"] is False


def test_a_percentage_is_described_with_the_bounds_its_validators_declare() -> None:
    percent = payload(DOCUMENT, "report.progress")["properties"]["percent"]
    assert percent == {"type": "integer", "minimum": 0, "maximum": 100}


@attrs.frozen
class Bounded:
    above_zero: int = attrs.field(validator=attrs.validators.gt(0))
    below_ten: int = attrs.field(validator=attrs.validators.lt(10))
    ratio: float = attrs.field(validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)])
    free: int


def test_field_bounds_become_inclusive_schema_bounds_within_64_bits() -> None:
    properties = SchemaBuilder().object_schema(Bounded, where="Bounded")["properties"]
    assert properties["above_zero"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    assert properties["below_ten"] == {"type": "integer", "minimum": -(2**63), "maximum": 9}
    assert properties["ratio"] == {"type": "number", "minimum": 0.0, "maximum": 1.0}
    assert properties["free"] == {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, {"type": "string"}),
        (bool, {"type": "boolean"}),
        (int, {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}),
        (float, {"type": "number"}),
        (uuid.UUID, {"type": "string", "format": "uuid"}),
        (datetime, {"type": "string", "format": "date-time"}),
        (date, {"type": "string", "format": "date"}),
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (str | None, {"anyOf": [{"type": "string"}, {"type": "null"}]}),
        (Optional[bool], {"anyOf": [{"type": "boolean"}, {"type": "null"}]}),  # noqa: UP045
        (list[str], {"type": "array", "items": {"type": "string"}}),
        (tuple[str, ...], {"type": "array", "items": {"type": "string"}}),
        (frozenset[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        (
            tuple[str, bool],
            {
                "type": "array",
                "items": [{"type": "string"}, {"type": "boolean"}],
                "additionalItems": False,
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (dict[str, bool], {"type": "object", "additionalProperties": {"type": "boolean"}}),
        (
            Mapping[uuid.UUID, str],
            {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "propertyNames": {"type": "string", "format": "uuid"},
            },
        ),
    ],
)
def test_field_types_map_to_json_schema(annotation: object, expected: dict[str, Any]) -> None:
    assert SchemaBuilder().schema_of(annotation, where="test") == expected


def test_enums_become_named_component_schemas() -> None:
    builder = SchemaBuilder()
    assert builder.schema_of(Colour, where="test") == {"$ref": "#/components/schemas/Colour"}
    assert builder.schema_of(list[Level], where="test") == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Level"},
    }
    assert builder.components == {
        "Colour": {"title": "Colour", "type": "string", "enum": ["red", "blue"]},
        "Level": {"title": "Level", "type": "integer", "enum": [1, 2]},
    }


def test_nested_attrs_classes_become_shared_component_schemas() -> None:
    registry = EventRegistry(
        [
            DomainToSSEMapping(
                domain_event=OrderShipped,
                sse_event_type="order.shipped",
                category=SSECategory.REPORTS,
                description="Shipped.",
            )
        ]
    )
    document = asyncapi_document(registry)
    assert asyncapi_errors(document) == []
    lines = payload(document, "order.shipped")["properties"]["lines"]
    assert lines == {"type": "array", "items": {"$ref": "#/components/schemas/Line"}}
    assert document["components"]["schemas"]["Line"]["required"] == ["sku", "quantity"]


@pytest.mark.parametrize(
    ("annotation", "named"),
    [
        (Decimal, "Decimal"),
        (Any, "Any"),
        (list, "list"),
        (dict[int, str], "keyed by int"),
        (bytes, "bytes"),
    ],
)
def test_an_unsupported_field_type_names_the_event_and_the_field(annotation: object, named: str) -> None:
    event = attrs.make_class(
        "BillPaid",
        {"user_id": attrs.field(type=uuid.UUID), "amount": attrs.field(type=annotation)},
        bases=(DomainEvent,),
        kw_only=True,
    )
    registry = EventRegistry(
        [
            DomainToSSEMapping(
                domain_event=event, sse_event_type="bill.paid", category=SSECategory.REPORTS, description="Paid."
            )
        ]
    )
    with pytest.raises(
        PayloadSchemaError, match=r"BillPaid \(SSE event 'bill\.paid'\): field BillPaid\.amount"
    ) as caught:
        asyncapi_document(registry)
    assert named in str(caught.value)


def test_a_nested_unsupported_type_names_the_path() -> None:
    @attrs.frozen
    class Money:
        amount: Decimal

    @attrs.frozen(kw_only=True)
    class Refunded(DomainEvent):
        user_id: uuid.UUID
        refund: Money

    registry = EventRegistry(
        [
            DomainToSSEMapping(
                domain_event=Refunded,
                sse_event_type="bill.refunded",
                category=SSECategory.REPORTS,
                description="Refunded.",
            )
        ]
    )
    with pytest.raises(PayloadSchemaError, match=r"Refunded.*'bill\.refunded'.*field Money\.amount has type Decimal"):
        asyncapi_document(registry)


def test_a_custom_payload_is_described_by_its_declared_type() -> None:
    @attrs.frozen
    class ShipmentSummary:
        order_count: int
        first_sku: str | None

    registry = EventRegistry(
        [
            DomainToSSEMapping(
                domain_event=OrderShipped,
                sse_event_type="order.summary",
                category=SSECategory.REPORTS,
                description="A summary.",
                payload_extractor=lambda e: {
                    "order_count": len(e.lines),
                    "first_sku": e.lines[0].sku if e.lines else None,
                },
                payload_type=ShipmentSummary,
            )
        ]
    )
    schema = payload(asyncapi_document(registry), "order.summary")
    assert schema["required"] == ["order_count", "first_sku", "event_id", "occurred_at"]


def test_the_document_is_json_and_the_same_every_time() -> None:
    again = asyncapi_document(REGISTRY)
    assert again == DOCUMENT
    again["components"]["securitySchemes"]["httpBearerToken"]["scheme"] = "basic"
    assert SECURITY_SCHEMES["httpBearerToken"]["scheme"] == "bearer"  # callers get their own copy
    assert json.loads(json.dumps(DOCUMENT)) == DOCUMENT


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://events.example.com", {"host": "events.example.com", "protocol": "https"}),
        ("http://localhost:8000", {"host": "localhost:8000", "protocol": "http"}),
        ("https://example.com/herald/", {"host": "example.com", "protocol": "https", "pathname": "/herald"}),
    ],
)
def test_the_server_is_the_address_clients_reach(url: str, expected: dict[str, str]) -> None:
    document = asyncapi_document(REGISTRY, server_url=url)
    server = document["servers"][SERVER]
    assert {key: value for key, value in server.items() if key != "description"} == expected
    assert asyncapi_errors(document) == []


BAD_SERVER_URLS = [
    "ftp://example.com",
    "example.com",
    "https://",
    "https://example.com/?a=1",
    "http://[::1",
    "http://:80",
    "http://example.com:abc",
    "http://example.com:99999",
    "http://example.com:0",
    "https://user:secret@example.com",
]


@pytest.mark.parametrize("url", BAD_SERVER_URLS)
def test_a_server_address_that_is_not_an_http_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(url))):
        server_object(url)
    with pytest.raises(SettingsError, match="HERALD_PUBLIC_URL"):
        Settings.from_env({"HERALD_PUBLIC_URL": url})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"HERALD_HOST": "0.0.0.0", "HERALD_PORT": "9000"}, "http://localhost:9000"),
        ({"HERALD_HOST": "::1"}, "http://[::1]:8000"),
        ({"HERALD_HOST": "[::1]"}, "http://[::1]:8000"),
        ({"HERALD_PUBLIC_URL": "https://events.example.com"}, "https://events.example.com"),
    ],
)
def test_the_server_defaults_to_the_address_herald_listens_on(environ: dict[str, str], expected: str) -> None:
    assert Settings.from_env(environ).server_url == expected


def test_in_production_only_the_public_address_is_a_server() -> None:
    production = {"HERALD_ENV": "production", "HERALD_JWT_SECRET": "s" * 40}
    assert Settings.from_env(production).server_url is None  # a bind address is no place clients reach
    public = Settings.from_env({**production, "HERALD_PUBLIC_URL": "https://events.example.com"})
    assert public.server_url == "https://events.example.com"
    assert "servers" not in asyncapi_document(REGISTRY, server_url=None)


def test_herald_asyncapi_prints_the_document_with_the_configured_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_PUBLIC_URL", "https://events.example.com")
    assert main(["asyncapi"]) == 0
    assert json.loads(capsys.readouterr().out) == asyncapi_document(REGISTRY, server_url="https://events.example.com")


def test_herald_asyncapi_writes_a_file_for_the_server_it_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "asyncapi.json"
    assert main(["asyncapi", "--output", str(target), "--server-url", "https://example.com/herald"]) == 0
    assert json.loads(target.read_text()) == asyncapi_document(REGISTRY, server_url="https://example.com/herald")
    assert capsys.readouterr().out == ""


def test_herald_asyncapi_refuses_a_server_that_is_not_an_http_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["asyncapi", "--server-url", "events.example.com"]) == 1
    assert capsys.readouterr().out == ""
