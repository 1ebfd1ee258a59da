"""An administrator's message to every user, or to every member of one tenant, kept so it can be shown again."""

from datetime import datetime
from uuid import UUID

import attrs

from domain.events.announcements import AnnouncementPublished, TenantAnnouncementPublished
from domain.ids import new_event_id


@attrs.frozen(kw_only=True)
class Announcement:
    """A published message."""

    announcement_id: UUID
    author_id: UUID
    message: str
    published_at: datetime
    tenant: str | None = None
    """The tenant whose members it is for; None: everyone."""

    @classmethod
    def publish(
        cls, author_id: UUID, message: str, *, now: datetime, tenant: str | None = None
    ) -> tuple["Announcement", AnnouncementPublished | TenantAnnouncementPublished]:
        """A new announcement and the event that sends it to everyone, or to ``tenant``'s members."""
        announcement = cls(
            announcement_id=new_event_id(), author_id=author_id, message=message, published_at=now, tenant=tenant
        )
        event_id = announcement.announcement_id
        if tenant is not None:
            return announcement, TenantAnnouncementPublished(
                event_id=event_id, author_id=author_id, message=message, occurred_at=now, tenant=tenant
            )
        return announcement, AnnouncementPublished(
            event_id=event_id, author_id=author_id, message=message, occurred_at=now
        )
