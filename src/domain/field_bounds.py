"""The bounds an event's numeric field declares (attrs' ``ge``/``gt``/``le``/``lt`` validators).

Declared once on the field, read wherever a bound must be known without
running the validator: generated test events, and schemas a client reads.
"""

from collections.abc import Iterator
from typing import Any

import attrs


@attrs.frozen
class Bounds:
    """Inclusive limits; None where the field declares none."""

    minimum: float | None = None
    maximum: float | None = None


def bounds_of(field: "attrs.Attribute[Any]") -> Bounds:
    """The inclusive bounds of ``field`` (``gt``/``lt`` on an ``int`` field become the next integer)."""
    minimum: float | None = None
    maximum: float | None = None
    step = 1 if field.type is int else 0
    for validator in _validators(field.validator):
        bound, operator = getattr(validator, "bound", None), getattr(validator, "compare_op", None)
        if not isinstance(bound, int | float) or operator is None:
            continue
        if operator in (">=", ">"):
            value = bound + step if operator == ">" else bound
            minimum = value if minimum is None else max(minimum, value)
        elif operator in ("<=", "<"):
            value = bound - step if operator == "<" else bound
            maximum = value if maximum is None else min(maximum, value)
    return Bounds(minimum, maximum)


def _validators(validator: Any) -> Iterator[Any]:
    if validator is None:
        return
    inner = getattr(validator, "_validators", None)
    if inner is None:
        yield validator
        return
    for each in inner:
        yield from _validators(each)
