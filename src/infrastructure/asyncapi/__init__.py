"""The AsyncAPI 3 document of the event stream, generated from the registry (never written by hand)."""

from infrastructure.asyncapi.document import asyncapi_document, asyncapi_json
from infrastructure.asyncapi.schemas import PayloadSchemaError, SchemaBuilder

__all__ = ["PayloadSchemaError", "SchemaBuilder", "asyncapi_document", "asyncapi_json"]
