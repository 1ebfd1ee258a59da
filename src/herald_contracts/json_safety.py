"""What a payload may hold to reach every client unchanged: JSON types only, in JSON's limits."""

import math
from collections.abc import Iterator
from typing import Any

#: Payload integers must fit a signed 64-bit integer (what orjson, Redis clients and most languages agree on).
INT64 = range(-(2**63), 2**63)


def json_problems(value: Any, path: str = "data") -> Iterator[str]:
    """Every place in ``value`` that JSON cannot carry exactly, as ``"<path> <problem>"``."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if not _is_utf8(value):
            yield f"{path} holds text that is not valid UTF-8 (a lone surrogate): {value!r}"
    elif isinstance(value, int):
        if value not in INT64:
            yield f"{path} = {value} does not fit in a signed 64-bit integer"
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield f"{path} = {value}, which JSON cannot represent"
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_problems(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                yield f"{path} has the key {key!r} of type {type(key).__name__}; JSON keys are strings"
            elif not _is_utf8(key):
                yield f"{path} has a key that is not valid UTF-8 (a lone surrogate): {key!r}"
            yield from json_problems(item, f"{path}[{key!r}]")
    else:
        yield f"{path} holds a {type(value).__name__}; a payload holds only str, int, float, bool, None, list, dict"


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
