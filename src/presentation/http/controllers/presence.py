"""``GET /api/v1/presence/{kind}/{id}``: who is connected to a group, for a caller who may see it."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import PathParameter, QueryParameter

from application.presence import MAX_PRESENCE_PAGE, NO_SUCH_GROUP, ReadPresence
from application.principal import Principal
from application.refusals import Refused
from domain.sse import Group
from infrastructure.container import Container
from presentation.http.auth import authenticated, provide_principal
from presentation.http.from_container import from_container
from presentation.http.refusals import refuse


class PresentMemberView(msgspec.Struct):
    """A user connected to the group."""

    user_id: UUID
    streams: int
    """Streams the user holds in the group, over every process."""
    since: datetime
    """Present without a break since then (a reconnect within the grace is no break)."""


class PresenceView(msgspec.Struct, omit_defaults=True):
    """Who is connected to a group: the exact count, and a page of the members in user id order."""

    count: int
    """Users present, each once however many streams they hold."""
    members: list[PresentMemberView] | msgspec.UnsetType = msgspec.UNSET
    """Left out with ``?members=false``."""
    next: str | msgspec.UnsetType | None = msgspec.UNSET
    """Pass as ``?after=`` for the next page; null on the last one (left out with ``?members=false``)."""
    version: int | msgspec.UnsetType = msgspec.UNSET
    """The group's presence version as read: apply a ``presence.*`` event only when its ``version`` is newer
    (left out with ``?members=false``)."""


class PresenceController(Controller):
    """Presence in the groups the caller may see."""

    path = "/api/v1/presence"
    tags = ["presence"]
    guards = [authenticated]
    dependencies = {
        "principal": Provide(provide_principal, sync_to_thread=False),
        "read_presence": from_container(Container.read_presence),
    }

    @get("/{kind:str}/{group_id:str}", summary="Who is connected to a group", cache=False)
    async def presence(
        self,
        kind: Annotated[str, PathParameter(description="the group's kind: report, tenant")],
        group_id: Annotated[str, PathParameter(description="the group's id (a report's UUID, a tenant)")],
        principal: NamedDependency[Principal],
        read_presence: NamedDependency[ReadPresence],
        members: Annotated[bool, QueryParameter(description="false: the count alone, in constant time")] = True,
        after: Annotated[
            str | None, QueryParameter(max_length=64, description="the `next` of the previous page")
        ] = None,
        limit: Annotated[
            int, QueryParameter(ge=1, le=MAX_PRESENCE_PAGE, description="members in the page")
        ] = MAX_PRESENCE_PAGE,
    ) -> PresenceView:
        """404 for a group the caller may not see (its report is neither theirs nor shared with them, a tenant
        not theirs), as for one that does not exist; 503 with ``Retry-After`` while presence cannot be read."""
        try:
            group = Group.parse(f"{kind}:{group_id}")
        except ValueError:
            raise NotFoundException(detail=NO_SUCH_GROUP.detail) from None
        try:
            cursor = UUID(after) if after is not None else None
        except ValueError:
            raise ValidationException(detail="after is not one this service gave: pass a page's `next`") from None
        page = await read_presence(principal, group, members=members, after=cursor, limit=limit)
        if isinstance(page, Refused):
            refuse(page)
        if not members:
            return PresenceView(count=page.count)
        return PresenceView(
            count=page.count,
            members=[PresentMemberView(m.user_id, m.streams, m.since) for m in page.members],
            next=str(page.next) if page.next is not None else None,
            version=page.version,
        )
