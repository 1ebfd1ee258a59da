"""The deny-list of secret-looking payload keys, and how a key is matched against it."""

import re
from collections.abc import Iterable, Iterator
from typing import Any

#: Key names that must never reach a client's stream. Extend or trim it with set
#: operations: ``DEFAULT_SECRET_NAMES | {"iban"}`` or ``DEFAULT_SECRET_NAMES - {"token"}``.
DEFAULT_SECRET_NAMES: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "authorization",
        "credential",
        "private_key",
        "ssn",
    }
)

#: Names this short match a whole word only, so ``ssn`` flags ``user_ssn`` but not ``business_name``.
_WHOLE_WORD_BELOW = 4

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^a-zA-Z0-9]+")


def words(name: str) -> list[str]:
    """The lower-case words of a key: ``apiKey``, ``api-key`` and ``API_KEY`` all give ``["api", "key"]``."""
    return [word.lower() for word in _SEPARATORS.split(_CAMEL_BOUNDARY.sub("_", name)) if word]


def secret_match(key: str, secret_names: Iterable[str]) -> str | None:
    """The deny-listed name that ``key`` looks like, if any.

    Case and separators are ignored and a name matches anywhere inside the key
    (``password`` flags ``new_password_hash``); names shorter than four letters
    must be a whole word of the key.
    """
    key_words = words(key)
    compact = "".join(key_words)
    for name in sorted(secret_names):
        needle = "".join(words(name))
        if not needle:
            continue
        if needle in key_words if len(needle) < _WHOLE_WORD_BELOW else needle in compact:
            return name
    return None


def secret_keys(
    value: Any, secret_names: Iterable[str], allowed_keys: Iterable[str] = (), path: str = "data"
) -> Iterator[tuple[str, str]]:
    """``(path, matched name)`` for every secret-looking key in ``value``, nested dicts and lists included."""
    names = frozenset(secret_names)
    allowed = frozenset("".join(words(key)) for key in allowed_keys)
    yield from _walk(value, names, allowed, path)


def _walk(value: Any, names: frozenset[str], allowed: frozenset[str], path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}[{key!r}]"
            if isinstance(key, str) and "".join(words(key)) not in allowed:
                match = secret_match(key, names)
                if match is not None:
                    yield where, match
            yield from _walk(item, names, allowed, where)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk(item, names, allowed, f"{path}[{index}]")
