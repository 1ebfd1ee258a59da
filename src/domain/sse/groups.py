"""Groups: audiences larger than one user, such as a tenant or the people watching a report.

A group is named by a kind, declared here by the application the way
categories are, and an id. Who is in a group is the application's
decision (a tenant comes with the identity, a report's watchers are allowed
by a use case); the registry only says which field of an event names it.
"""

import enum
import re
from uuid import UUID

import attrs

#: A group's id, and a tenant's: short, and safe in a key name, a URL and an ``id:`` line.
GROUP_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class GroupKind(enum.Enum):
    """Every kind of group an event can address; add a member here before a registry entry can use it."""

    TENANT = "tenant"
    """Every member of an organisation; a stream is in its user's tenant's group."""
    REPORT = "report"
    """Whoever watches a report (``?watch=report:<id>``) and may see it."""


#: The kinds of group whose members are told as users come and go (``presence.joined``, ``presence.left``).
#: Every kind answers presence queries; announcing costs each member a message per change,
#: so it is for groups whose members want to see each other (the watchers of a report).
ANNOUNCED_PRESENCE: frozenset[GroupKind] = frozenset({GroupKind.REPORT})


def group_id_problem(group_id: str) -> str | None:
    """Why ``group_id`` cannot name a group (None: it can)."""
    if GROUP_ID_PATTERN.fullmatch(group_id) is None:
        return "a group id is 1 to 64 characters of letters, digits, '_', '.' and '-'"
    return None


def valid_group_id(_: object, __: "attrs.Attribute[str]", value: str) -> None:
    """attrs validator of a field holding a group's id (a tenant, say)."""
    problem = group_id_problem(value)
    if problem is not None:
        raise ValueError(problem)


@attrs.frozen
class Group:
    """One group: its kind and its id. Written ``<kind>:<id>``, as in ``?watch=report:<id>``."""

    kind: GroupKind
    id: str = attrs.field()

    @id.validator
    def _check_id(self, _: "attrs.Attribute[str]", value: str) -> None:
        problem = group_id_problem(value) if isinstance(value, str) else "a group id is text"
        if problem is not None:
            raise ValueError(problem)

    @classmethod
    def parse(cls, text: str) -> "Group":
        """The group written as ``<kind>:<id>``; ``ValueError`` saying why when it is not one."""
        kind, colon, group_id = text.partition(":")
        try:
            group_kind = GroupKind(kind)
        except ValueError:
            kinds = ", ".join(k.value for k in GroupKind)
            raise ValueError(f"a group is <kind>:<id> with a kind of: {kinds}") from None
        if not colon:
            raise ValueError(f"a group is <kind>:<id>, such as {group_kind.value}:<id>")
        return cls(group_kind, group_id)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"


@attrs.frozen
class GroupField:
    """Group extractor: the group whose id is in one field of the event, of a fixed kind or of the kind in another.

    A value object (not a lambda), so the registry can check at import that
    the fields exist on the mapped event class.
    """

    kind: GroupKind | None
    """The group's kind; None when the event names it in ``kind_field``."""
    field: str
    kind_field: str | None = None

    def __call__(self, event: object) -> Group:
        value = getattr(event, self.field)
        if isinstance(value, UUID):
            value = str(value)
        if not isinstance(value, str):
            msg = f"field {self.field!r} of {type(event).__name__} holds {type(value).__name__}, not a group id"
            raise TypeError(msg)
        kind = self.kind if self.kind_field is None else getattr(event, self.kind_field)
        if not isinstance(kind, GroupKind):
            msg = f"field {self.kind_field!r} of {type(event).__name__} holds {kind!r}, not a GroupKind"
            raise TypeError(msg)
        return Group(kind, value)

    def describe(self) -> str:
        """The group in words, for the catalogue and the AsyncAPI document."""
        if self.kind is not None:
            return f"{self.kind.value} group in {self.field!r}"
        return f"group of the kind in {self.kind_field!r} and the id in {self.field!r}"


def to_group(kind: GroupKind | None = None, *, field: str, kind_field: str | None = None) -> GroupField:
    """Address the event to the group of ``kind`` whose id is in field ``field`` (a UUID or a string).

    For events about groups of any kind (presence), pass ``kind_field`` instead
    of ``kind``: the field holding the event's ``GroupKind``.
    """
    return GroupField(kind, field, kind_field)
