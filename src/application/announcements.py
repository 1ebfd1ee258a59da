"""Use case: an administrator publishes a message to every user."""

from uuid import UUID

from application.ports import Clock
from application.unit_of_work import UnitOfWorkFactory
from domain.events import AnnouncementPublished
from domain.model import Announcement


class PublishAnnouncement:
    """Save the announcement with its ``AnnouncementPublished``; who may call this is decided at the edge."""

    def __init__(self, units: UnitOfWorkFactory, clock: Clock) -> None:
        self._units = units
        self._clock = clock

    async def __call__(self, author_id: UUID, message: str) -> AnnouncementPublished:
        async with self._units() as uow:
            announcement, event = Announcement.publish(author_id, message, now=self._clock.now())
            await uow.announcements.add(announcement)
            uow.record(event)
            await uow.commit()
        return event
