"""An administrator's message to every user, kept so it can be shown again."""

from datetime import datetime
from uuid import UUID

import attrs

from domain.events.announcements import AnnouncementPublished
from domain.ids import new_event_id


@attrs.frozen(kw_only=True)
class Announcement:
    """A published message."""

    announcement_id: UUID
    author_id: UUID
    message: str
    published_at: datetime

    @classmethod
    def publish(cls, author_id: UUID, message: str, *, now: datetime) -> tuple["Announcement", AnnouncementPublished]:
        """A new announcement and the event that sends it to everyone."""
        announcement = cls(announcement_id=new_event_id(), author_id=author_id, message=message, published_at=now)
        event = AnnouncementPublished(
            event_id=announcement.announcement_id, author_id=author_id, message=message, occurred_at=now
        )
        return announcement, event
