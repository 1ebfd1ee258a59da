"""Who an SSE event is for: one user, several users, or everyone."""

import enum
from collections.abc import Callable
from typing import Any
from uuid import UUID

import attrs


class Broadcast(enum.Enum):
    """Marker for events that every connected user receives.

    A dedicated marker, rather than ``None``, keeps an extractor bug that
    returns nothing from turning a private event into a public one.
    """

    EVERYONE = "everyone"


BROADCAST = Broadcast.EVERYONE

#: What an audience extractor returns.
Audience = UUID | frozenset[UUID] | Broadcast

#: Reads the audience of a domain event.
AudienceExtractor = Callable[[Any], Audience]


@attrs.frozen
class UserField:
    """Audience extractor: the user named by one field of the event.

    Being a value object (not a lambda) lets the registry check at import that
    the field exists on the mapped event class.
    """

    name: str

    def __call__(self, event: object) -> Audience:
        value = getattr(event, self.name)
        if not isinstance(value, UUID):
            msg = f"field {self.name!r} of {type(event).__name__} holds {type(value).__name__}, not a UUID"
            raise TypeError(msg)
        return value


@attrs.frozen
class Everyone:
    """Audience extractor for broadcast events."""

    def __call__(self, event: object) -> Audience:
        return BROADCAST


def user_field(name: str) -> UserField:
    """Address the event to the user whose id is in field ``name``."""
    return UserField(name)


#: Address the event to every connected user.
to_everyone = Everyone()
