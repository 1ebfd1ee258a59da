"""Events meant for every user of the service."""

from uuid import UUID

import attrs

from domain.events.base import DomainEvent


@attrs.frozen(kw_only=True)
class AnnouncementPublished(DomainEvent):
    """An administrator published a message to everyone."""

    message: str
    author_id: UUID
