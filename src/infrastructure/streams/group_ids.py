"""The groups' part of a stream's id: which groups it covers, and where the stream is in each group's log.

A stream in groups carries, after its user and broadcast positions, a
section ``.<fingerprint>.<position>.<position>...``: one position per group,
in the groups' sorted order, and a fingerprint of that list, so an id is
never read against a different list of groups. Both brokers write their
group positions in base 36, which keeps the id short with the most watches.
A stream in no group has no section: its id is exactly what it was before
groups existed.
"""

import functools
import hashlib
import re
from collections.abc import Iterable

import attrs

from domain.sse import Group

SEPARATOR = "."
_BASE36 = re.compile(r"[0-9a-z]{1,13}")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@attrs.frozen
class GroupOrder:
    """A stream's groups in the order its id lists their positions, and the fingerprint of that list."""

    groups: tuple[Group, ...]
    fingerprint: str
    index: dict[Group, int] = attrs.field(eq=False, hash=False)


@functools.lru_cache(maxsize=4096)
def group_order(groups: frozenset[Group]) -> GroupOrder:
    """The order of ``groups`` in an id (shared by every stream with the same groups)."""
    ordered = tuple(sorted(groups, key=str))
    digest = hashlib.blake2b("\n".join(map(str, ordered)).encode(), digest_size=4).hexdigest()
    return GroupOrder(ordered, digest, {group: i for i, group in enumerate(ordered)})


def section(order: GroupOrder, positions: Iterable[str]) -> str:
    """The groups' section of an id, given each group's position written out."""
    return "".join((SEPARATOR, order.fingerprint, *(SEPARATOR + position for position in positions)))


def split_id(raw: str) -> tuple[str, str | None, list[str]]:
    """``raw`` as its user-and-broadcast part, its fingerprint (None: no section) and the group positions."""
    base, separator, rest = raw.partition(SEPARATOR)
    if not separator:
        return base, None, []
    fingerprint, *positions = rest.split(SEPARATOR)
    return base, fingerprint, positions


def to36(number: int) -> str:
    """A non-negative integer in base 36 (lower case)."""
    if number == 0:
        return "0"
    digits = []
    while number:
        number, digit = divmod(number, 36)
        digits.append(_DIGITS[digit])
    return "".join(reversed(digits))


def from36(text: str) -> int | None:
    """The integer written by :func:`to36`; None when ``text`` is not one."""
    return int(text, 36) if _BASE36.fullmatch(text) else None
