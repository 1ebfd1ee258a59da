"""Hypothesis strategies for domain events, derived from their attrs field types."""

import types
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, Union, cast, get_args, get_origin

import attrs
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument, ResolutionFailed

from domain.field_bounds import Bounds, bounds_of
from herald_contracts.errors import StrategyError

T = TypeVar("T")

#: ``(attrs class, field name)``: the key of a strategy for one field.
FieldKey = tuple[type[Any], str]

#: Where Herald's wire format is narrower than Python: payload integers fit in
#: 64 bits, floats are finite and domain timestamps are aware UTC.
DEFAULT_TYPE_STRATEGIES: Mapping[Any, st.SearchStrategy[Any]] = types.MappingProxyType(
    {
        int: st.integers(min_value=-(2**63), max_value=2**63 - 1),
        float: st.floats(allow_nan=False, allow_infinity=False),
        datetime: st.datetimes(timezones=st.just(UTC)),
    }
)

_SEQUENCES = {list, Sequence}
_MAPPINGS = {dict, Mapping}
#: Generic origins built from their parts, so a strategy registered for a part is used inside them.
_CONTAINERS = {Union, types.UnionType, tuple, set, frozenset, *_SEQUENCES, *_MAPPINGS}


class EventStrategies:
    """Builds events field by field: a strategy for that field, else for its type, else hypothesis's own.

    Nested attrs classes and the usual containers (lists, tuples, sets, dicts,
    unions) are built the same way, so a strategy registered for a type is used
    wherever the type appears.
    """

    def __init__(
        self,
        types: Mapping[Any, st.SearchStrategy[Any]] | None = None,
        fields: Mapping[FieldKey, st.SearchStrategy[Any]] | None = None,
    ) -> None:
        self._types: dict[Any, st.SearchStrategy[Any]] = {**DEFAULT_TYPE_STRATEGIES, **(types or {})}
        self._fields: dict[FieldKey, st.SearchStrategy[Any]] = dict(fields or {})
        self._built: dict[type[Any], st.SearchStrategy[Any]] = {}

    def events_of(self, cls: type[T]) -> st.SearchStrategy[T]:
        """Instances of ``cls`` with every field generated, envelope included; raises :class:`StrategyError`."""
        if cls not in self._built:
            self._built[cls] = self._attrs_class(cls, cls.__name__)
        return self._built[cls]

    def _attrs_class(self, cls: type[T], path: str) -> st.SearchStrategy[T]:
        fields = attrs.fields(attrs.resolve_types(cast(Any, cls)))
        arguments = {field.alias: self._field(cls, field, f"{path}.{field.name}") for field in fields if field.init}
        return st.builds(cls, **arguments)

    def _field(self, owner: type[Any], field: "attrs.Attribute[Any]", path: str) -> st.SearchStrategy[Any]:
        custom = self._fields.get((owner, field.name))
        if custom is not None:
            return custom
        if field.type is None:
            raise StrategyError(_advice(owner, field.name, path, None, "the field has no type annotation"))
        if field.type is int and (bounds := bounds_of(field)) != Bounds():
            # Within what the field's own validators accept, and within 64 bits.
            low = -(2**63) if bounds.minimum is None else max(-(2**63), int(bounds.minimum))
            high = 2**63 - 1 if bounds.maximum is None else min(2**63 - 1, int(bounds.maximum))
            return st.integers(min_value=low, max_value=high)
        return self._type(field.type, owner, field.name, path)

    def _type(self, tp: Any, owner: type[Any], name: str, path: str) -> st.SearchStrategy[Any]:
        if tp in self._types:
            return self._types[tp]
        if isinstance(tp, type) and attrs.has(tp):
            return self._attrs_class(tp, f"{path} -> {tp.__name__}")
        origin, args = get_origin(tp), get_args(tp)
        if origin not in _CONTAINERS:
            return _from_type(tp, owner, name, path)
        parts = [self._type(arg, owner, name, path) for arg in args if arg is not Ellipsis]
        if origin in (Union, types.UnionType):
            return st.one_of(*parts)
        if origin in _SEQUENCES and parts:
            return st.lists(parts[0])
        if origin is tuple and parts:
            return st.lists(parts[0]).map(tuple) if Ellipsis in args else st.tuples(*parts)
        if origin in (set, frozenset) and parts:
            return st.frozensets(parts[0]).map(origin)
        if origin in _MAPPINGS and len(parts) == 2:
            return st.dictionaries(parts[0], parts[1])
        return _from_type(tp, owner, name, path)


def _from_type(tp: Any, owner: type[Any], name: str, path: str) -> st.SearchStrategy[Any]:
    strategy = st.from_type(tp)
    try:
        strategy.validate()
    except (ResolutionFailed, InvalidArgument) as error:
        raise StrategyError(_advice(owner, name, path, tp, str(error))) from None
    return strategy


def _advice(owner: type[Any], name: str, path: str, tp: Any, cause: str) -> str:
    type_name = getattr(tp, "__name__", repr(tp))
    by_type = f" or strategies={{{type_name}: st.builds(...)}} for every field of that type" if tp is not None else ""
    return (
        f"hypothesis cannot generate {path} (type {type_name}): {cause}. "
        f"Register a strategy: MappingContracts(registry, field_strategies={{({owner.__name__}, {name!r}): "
        f"st.builds(...)}}) for this field{by_type}."
    )
