"""Request bodies that refuse unknown fields say so in their schema (``additionalProperties: false``).

msgspec refuses an unknown field of a struct declared ``forbid_unknown_fields=True`` with a 400; Litestar's
schema for a struct leaves the schema open, so a client generated from the document would send what the
server refuses. This plugin takes the place of Litestar's own for structs and closes the schema of those.
"""

from typing import cast

import msgspec
from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import Schema
from litestar.typing import FieldDefinition


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """Litestar's struct schemas, with ``additionalProperties: false`` where the struct forbids unknown fields."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = cast("msgspec.inspect.StructType", msgspec.inspect.type_info(field_definition.type_))
        if info.forbid_unknown_fields:
            schema_creator.schema_registry.get_schema_for_field_definition(
                field_definition
            ).additional_properties = False
        return schema
