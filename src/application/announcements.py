"""Use case: an administrator publishes a message to every user, or to the members of their tenant."""

from typing import ClassVar
from uuid import UUID

from application.ports import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from application.recorded import Recorded
from application.refusals import RefusalKind
from domain.events import AnnouncementPublished, TenantAnnouncementPublished
from domain.model import Announcement
from domain.registry import EventRegistry


class PublishAnnouncement:
    """Save the announcement with its event; who may call this is decided at the edge.

    ``tenant`` (the author's own, from their identity) keeps it to that
    tenant's members: one write to the tenant's group, however many they are.
    """

    refuses: ClassVar[frozenset[RefusalKind]] = frozenset()

    def __init__(self, units: UnitOfWorkFactory, clock: Clock, registry: EventRegistry) -> None:
        self._units = units
        self._clock = clock
        self._registry = registry

    async def __call__(
        self, author_id: UUID, message: str, *, tenant: str | None = None
    ) -> Recorded[AnnouncementPublished | TenantAnnouncementPublished]:
        async with self._units() as uow:
            announcement, event = Announcement.publish(author_id, message, now=self._clock.now(), tenant=tenant)
            await uow.announcements.add(announcement)
            uow.record(event)
            await uow.commit()
        return Recorded.of(event, [event], self._registry)
