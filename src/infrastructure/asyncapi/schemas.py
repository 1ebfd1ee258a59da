"""JSON Schemas of payloads, derived from attrs field types the way the wire format writes them."""

import enum
import types
import typing
from collections import abc
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any
from uuid import UUID

import attrs

from domain.field_bounds import Bounds, bounds_of

JsonSchema = dict[str, Any]

#: JSON payload integers must fit in 64 bits (what the wire format and most clients accept).
INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}

_SCALARS: dict[object, JsonSchema] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: INT64,
    # NaN and infinities are not JSON: orjson writes them as null, so keep them out of events.
    float: {"type": "number"},
    UUID: {"type": "string", "format": "uuid"},
    datetime: {"type": "string", "format": "date-time"},
    date: {"type": "string", "format": "date"},
    type(None): {"type": "null"},
}
_SEQUENCES = {list, abc.Sequence, abc.MutableSequence}
_SETS = {set, frozenset, abc.Set, abc.MutableSet}
_MAPPINGS = {dict, abc.Mapping, abc.MutableMapping}
_SUPPORTED = (
    "str, bool, int, float, UUID, datetime, date, enums, Literal, unions and Optional, "
    "list/tuple/set/frozenset of a supported type, dict with str, str-enum or UUID keys, attrs classes"
)


class PayloadSchemaError(TypeError):
    """A payload field has a type the document cannot describe: fix the event, or the schema would lie."""


class SchemaBuilder:
    """Turns attrs classes into JSON Schemas; nested attrs classes and enums become named, shared component
    schemas (a code generator makes one type of each, named after it)."""

    def __init__(self, ref_prefix: str = "#/components/schemas/") -> None:
        self._ref_prefix = ref_prefix
        self._names: dict[type, str] = {}
        #: Schemas of nested attrs classes by name, to go under ``components.schemas``.
        self.components: dict[str, JsonSchema] = {}

    def object_schema(self, cls: type, *, where: str, exclude: abc.Set[str] = frozenset()) -> JsonSchema:
        """The JSON object cattrs writes for an instance of ``cls``, minus the ``exclude`` fields.

        Every field is required (cattrs writes them all) and no other key appears.
        ``where`` names the payload in error messages (``ReportRequested (SSE event 'report.requested')``).
        """
        fields = _resolved_fields(cls, where)
        properties = {
            field.name: _bounded(field, self.schema_of(field.type, where=f"{where}: field {cls.__name__}.{field.name}"))
            for field in fields
            if field.name not in exclude
        }
        return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}

    def schema_of(self, annotation: object, *, where: str) -> JsonSchema:
        """The schema of one annotation; raises :class:`PayloadSchemaError` naming ``where`` if unsupported.

        The first rule of :data:`_RULES` that matches builds it: a new kind of type is one more rule.
        """
        shape = _Shape(annotation, typing.get_origin(annotation), typing.get_args(annotation))
        for matches, build in _RULES:
            if matches(shape):
                return build(self, shape, where)
        msg = f"{where} has type {_describe(annotation)}, which the AsyncAPI document cannot describe; use {_SUPPORTED}"
        raise PayloadSchemaError(msg)

    def reference(self, cls: type, where: str) -> JsonSchema:
        """A ``$ref`` to the shared component schema of the attrs class or enum ``cls``."""
        name = self._names.get(cls)
        if name is None:
            name = self._names[cls] = self._claim(cls.__name__, where)  # first: a class may refer to itself
            if _is_enum_class(cls):
                schema = _enum_schema([member.value for member in typing.cast(type[enum.Enum], cls)], cls, where)
            else:
                schema = self.object_schema(cls, where=where)
            self.components[name] = {"title": name, **schema}
        return {"$ref": self._ref_prefix + name}

    def named(self, name: str, schema: JsonSchema, *, where: str) -> JsonSchema:
        """Put ``schema`` under ``components`` as ``name``; a ``$ref`` to it."""
        self.components[self._claim(name, where)] = {"title": name, **schema}
        return {"$ref": self._ref_prefix + name}

    def _claim(self, name: str, where: str) -> str:
        if name in self.components or name in self._names.values():
            msg = f"{where}: two different schemas are named {name!r}; rename one so they stay apart"
            raise PayloadSchemaError(msg)
        return name


@attrs.frozen
class _Shape:
    """An annotation taken apart once for every rule."""

    annotation: Any
    origin: object
    args: tuple[Any, ...]


_Build = Callable[[SchemaBuilder, _Shape, str], JsonSchema]


def _each(builder: SchemaBuilder, args: Iterable[Any], where: str) -> list[JsonSchema]:
    return [builder.schema_of(arg, where=where) for arg in args]


def _tuple(builder: SchemaBuilder, shape: _Shape, where: str) -> JsonSchema:
    args = shape.args
    if len(args) == 2 and args[1] is Ellipsis:
        return {"type": "array", "items": builder.schema_of(args[0], where=where)}
    items = _each(builder, args, where)
    return {"type": "array", "items": items, "additionalItems": False, "minItems": len(args), "maxItems": len(args)}


def _mapping(builder: SchemaBuilder, shape: _Shape, where: str) -> JsonSchema:
    keys = _key_schema(shape.args[0], where)
    values = builder.schema_of(shape.args[1], where=where)
    return {"type": "object", "additionalProperties": values} | ({"propertyNames": keys} if keys else {})


def _is_enum_class(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, enum.Enum)


def _literal_values(args: tuple[Any, ...]) -> list[Any]:
    return [arg.value if isinstance(arg, enum.Enum) else arg for arg in args]


#: (does the rule apply?, the schema) for each kind of annotation, tried in order.
_RULES: tuple[tuple[Callable[[_Shape], bool], _Build], ...] = (
    (lambda s: s.annotation in _SCALARS, lambda b, s, w: dict(_SCALARS[s.annotation])),
    (
        lambda s: isinstance(s.annotation, typing.NewType),
        lambda b, s, w: b.schema_of(s.annotation.__supertype__, where=w),
    ),
    (lambda s: s.origin is typing.Annotated, lambda b, s, w: b.schema_of(s.args[0], where=w)),
    (
        lambda s: _is_enum_class(s.annotation) or (isinstance(s.annotation, type) and attrs.has(s.annotation)),
        lambda b, s, w: b.reference(s.annotation, w),
    ),
    (lambda s: s.origin is typing.Literal, lambda b, s, w: _enum_schema(_literal_values(s.args), s.annotation, w)),
    (lambda s: s.origin in (typing.Union, types.UnionType), lambda b, s, w: {"anyOf": _each(b, s.args, w)}),
    (
        lambda s: s.origin in _SEQUENCES and len(s.args) == 1,
        lambda b, s, w: {"type": "array", "items": b.schema_of(s.args[0], where=w)},
    ),
    (
        lambda s: s.origin in _SETS and len(s.args) == 1,
        lambda b, s, w: {"type": "array", "items": b.schema_of(s.args[0], where=w), "uniqueItems": True},
    ),
    (lambda s: s.origin is tuple and bool(s.args), _tuple),
    (lambda s: s.origin in _MAPPINGS and len(s.args) == 2, _mapping),
)


def _bounded(field: "attrs.Attribute[Any]", schema: JsonSchema) -> JsonSchema:
    """``schema`` narrowed to the bounds the field's own validators declare (``percent``: 0 to 100)."""
    bounds = bounds_of(field)
    if schema.get("type") not in ("integer", "number") or bounds == Bounds():
        return schema
    narrowed = dict(schema)
    if bounds.minimum is not None:
        narrowed["minimum"] = max(bounds.minimum, schema.get("minimum", bounds.minimum))
    if bounds.maximum is not None:
        narrowed["maximum"] = min(bounds.maximum, schema.get("maximum", bounds.maximum))
    return narrowed


def _resolved_fields(cls: type, where: str) -> tuple[attrs.Attribute, ...]:  # type: ignore[type-arg]
    try:
        attrs.resolve_types(cls)
    except NameError as error:
        raise PayloadSchemaError(f"{where}: cannot resolve the annotations of {cls.__name__} ({error})") from error
    fields: tuple[attrs.Attribute, ...] = attrs.fields(cls)  # type: ignore[type-arg]
    for field in fields:
        if field.type is None:
            raise PayloadSchemaError(f"{where}: field {cls.__name__}.{field.name} has no type annotation")
    return fields


def _enum_schema(values: list[Any], annotation: object, where: str) -> JsonSchema:
    if all(isinstance(v, str) for v in values):
        return {"type": "string", "enum": values}
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return {"type": "integer", "enum": values}
    if all(isinstance(v, (str, int, float, bool)) or v is None for v in values):
        return {"enum": values}
    msg = f"{where} has type {_describe(annotation)}, whose values are not all JSON scalars"
    raise PayloadSchemaError(msg)


def _key_schema(key: object, where: str) -> JsonSchema | None:
    if key is str:
        return None
    if key is UUID:
        return {"type": "string", "format": "uuid"}
    if isinstance(key, type) and issubclass(key, enum.Enum) and all(isinstance(m.value, str) for m in key):
        return {"enum": [m.value for m in key]}
    msg = f"{where} is a mapping keyed by {_describe(key)}; JSON object keys must be str, a str-valued enum or UUID"
    raise PayloadSchemaError(msg)


def _describe(annotation: object) -> str:
    return annotation.__qualname__ if isinstance(annotation, type) else repr(annotation)
