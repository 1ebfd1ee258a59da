"""``POST /api/v1/announcements``: an administrator's broadcast."""

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from application.access import ADMIN_ROLE
from application.announcements import PublishAnnouncement
from application.principal import Principal
from presentation.auth import authenticated, provide_principal, require_role

#: Line breaks and tabs are the only control characters a message may hold.
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*\Z"


class AnnouncementRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of an announcement."""

    message: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=_TEXT)]


class AnnouncementAccepted(msgspec.Struct):
    """The announcement was published to every connected user."""

    event_id: UUID


class AnnouncementsController(Controller):
    """Broadcasts to every user."""

    path = "/api/v1/announcements"
    tags = ["announcements"]
    guards = [authenticated]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @post("/", status_code=202, summary="Publish an announcement to every user (admin)")
    async def publish(
        self,
        data: JSONBody[AnnouncementRequest],
        principal: NamedDependency[Principal],
        publish_announcement: NamedDependency[PublishAnnouncement],
    ) -> AnnouncementAccepted:
        """Only callers with the ``admin`` role may broadcast."""
        require_role(principal, ADMIN_ROLE)
        event = await publish_announcement(principal.user_id, data.message)
        return AnnouncementAccepted(event_id=event.event_id)
