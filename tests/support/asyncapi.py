"""Offline validation against the vendored official AsyncAPI 3.0.0 JSON Schema."""

import functools
import json
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker

ASYNCAPI_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "asyncapi-3.0.0.json"

#: Strict checks of the formats Herald's payloads use, without optional jsonschema extras.
FORMATS = FormatChecker(formats=())


@FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or str(uuid.UUID(value)) == value


@FORMATS.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    """RFC 3339 needs an offset: a naive ISO timestamp is not a date-time."""
    return not isinstance(value, str) or ("T" in value and datetime.fromisoformat(value).tzinfo is not None)


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or date.fromisoformat(value).isoformat() == value


@functools.cache
def asyncapi_validator() -> Draft7Validator:
    """The validator of AsyncAPI 3.0.0 documents (the schema's ``$schema`` is draft-07)."""
    schema = json.loads(ASYNCAPI_SCHEMA.read_text())
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def asyncapi_errors(document: object) -> list[str]:
    """Every violation of the AsyncAPI 3.0.0 schema, as ``path: message`` lines."""
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in asyncapi_validator().iter_errors(document)
    ]


def payload_validator(schema: dict[str, Any], document: dict[str, Any]) -> Draft7Validator:
    """A validator of one message's payload whose ``$ref``s resolve inside ``document``."""
    return Draft7Validator({**schema, "components": document["components"]}, format_checker=FORMATS)


def resolve_pointer(document: object, ref: str) -> object:
    """The value a local ``#/a/b`` reference points at; KeyError when it points nowhere."""
    assert ref.startswith("#/"), ref
    node = document
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]  # type: ignore[index]
    return node
