"""``POST /api/v1/announcements``: an administrator's broadcast, or a message to their tenant."""

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import PermissionDeniedException
from litestar.params import JSONBody

from application.access import ADMIN_ROLE
from application.announcements import PublishAnnouncement
from application.principal import Principal
from infrastructure.container import Container
from presentation.http.auth import authenticated, provide_principal, require_role
from presentation.http.from_container import from_container

#: Line breaks and tabs are the only control characters a message may hold.
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*\Z"


class AnnouncementRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of an announcement."""

    message: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=_TEXT)]
    scope: Literal["tenant"] | None = None
    """``tenant``: only the members of the caller's tenant receive it. Absent: every user."""


class AnnouncementAccepted(msgspec.Struct):
    """The announcement was published (to every connected user, or to the tenant's members)."""

    event_id: UUID
    """The announcement's own event id."""
    event_ids: Annotated[
        list[UUID],
        msgspec.Meta(
            description="The `event_id` of each stream event the announcement recorded: once the stream has "
            "delivered them, it reflects the announcement (read-your-writes)."
        ),
    ]


class AnnouncementsController(Controller):
    """Broadcasts to every user."""

    path = "/api/v1/announcements"
    tags = ["announcements"]
    guards = [authenticated]
    dependencies = {
        "principal": Provide(provide_principal, sync_to_thread=False),
        "publish_announcement": from_container(Container.publish_announcement),
    }

    @post(
        "/",
        status_code=202,
        summary="Publish an announcement to every user, or to your tenant (admin)",
        raises=[PermissionDeniedException],
    )
    async def publish(
        self,
        data: JSONBody[AnnouncementRequest],
        principal: NamedDependency[Principal],
        publish_announcement: NamedDependency[PublishAnnouncement],
    ) -> AnnouncementAccepted:
        """Only callers with the ``admin`` role may announce; ``scope: tenant`` needs a caller with a tenant."""
        require_role(principal, ADMIN_ROLE)
        tenant = None
        if data.scope == "tenant":
            if principal.tenant is None:
                raise PermissionDeniedException(detail="scope 'tenant' needs a caller whose token names a tenant")
            tenant = principal.tenant
        published = await publish_announcement(principal.user_id, data.message, tenant=tenant)
        return AnnouncementAccepted(event_id=published.value.event_id, event_ids=list(published.event_ids))
