"""Use case: an administrator publishes a message to every user."""

from uuid import UUID

from domain.events import AnnouncementPublished
from domain.ports import EventBusProtocol


class PublishAnnouncement:
    """Raise ``AnnouncementPublished``; who may call this is decided at the edge."""

    def __init__(self, bus: EventBusProtocol) -> None:
        self._bus = bus

    async def __call__(self, author_id: UUID, message: str) -> AnnouncementPublished:
        event = AnnouncementPublished(author_id=author_id, message=message)
        await self._bus.publish(event)
        return event
