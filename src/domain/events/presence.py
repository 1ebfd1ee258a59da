"""Events of presence: a user came into a group (its first stream opened) or left it (its last one closed)."""

from uuid import UUID

import attrs

from domain.events.base import DomainEvent
from domain.sse.groups import GroupKind, valid_group_id


@attrs.frozen(kw_only=True)
class PresenceEvent(DomainEvent):
    """A change of who is in one group, told to the group's members."""

    group_kind: GroupKind
    group_id: str = attrs.field(validator=valid_group_id)
    user_id: UUID
    version: int = attrs.field(validator=attrs.validators.ge(1))
    """The group's presence version after this change; it only grows. Two processes can publish changes of one
    user in either order: a client applies a change only when it is newer than what it holds of that user."""


@attrs.frozen(kw_only=True)
class PresenceJoined(PresenceEvent):
    """The user's first stream in the group opened (a reconnect within the grace is no join)."""


@attrs.frozen(kw_only=True)
class PresenceLeft(PresenceEvent):
    """The user's last stream in the group closed and stayed closed for the grace, or its process died."""
