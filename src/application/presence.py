"""Use cases of presence: who is connected to a group, for a caller who may see the group.

Being present is having a stream open in the group; the
:class:`~application.ports.Presence` port counts them across every process.
Whether a caller may see a group is the rule that lets it watch the group
(:class:`~application.ports.WatchAccess`, one per kind): a group it may not
see is answered as one that does not exist, so a non-member learns nothing.
"""

from collections.abc import Mapping
from typing import ClassVar
from uuid import UUID

from application.ports import Presence, PresencePage, PresenceUnavailableError, WatchAccess
from application.ports.unit_of_work import StorageUnavailableError
from application.principal import Principal
from application.refusals import RefusalKind, Refused
from domain.sse import Group, GroupKind

#: The most members one page of a presence answer holds.
MAX_PRESENCE_PAGE = 100

NO_SUCH_GROUP = Refused(RefusalKind.NOT_FOUND, "no such group")
PRESENCE_UNAVAILABLE = Refused(RefusalKind.UNAVAILABLE, "presence is unavailable; retry", retry_after_seconds=2)


class TenantAccess:
    """``WatchAccess`` for tenants: a user sees the group of their own tenant, and no other."""

    async def may_watch(self, caller: Principal, group: Group) -> bool:
        return group.kind is GroupKind.TENANT and caller.tenant == group.id


class ReadPresence:
    """The users present in a group: the exact count, and a page of them unless only the count is asked for."""

    refuses: ClassVar[frozenset[RefusalKind]] = frozenset({RefusalKind.NOT_FOUND, RefusalKind.UNAVAILABLE})

    def __init__(self, presence: Presence, access: Mapping[GroupKind, WatchAccess]) -> None:
        self._presence = presence
        self._access = dict(access)

    async def __call__(
        self,
        caller: Principal,
        group: Group,
        *,
        members: bool = True,
        after: UUID | None = None,
        limit: int = MAX_PRESENCE_PAGE,
    ) -> PresencePage | Refused:
        access = self._access.get(group.kind)
        try:
            if access is None or not await access.may_watch(caller, group):
                return NO_SUCH_GROUP
        except StorageUnavailableError:
            return PRESENCE_UNAVAILABLE
        try:
            if not members:
                return PresencePage(await self._presence.count(group))
            return await self._presence.members(group, after=after, limit=min(limit, MAX_PRESENCE_PAGE))
        except PresenceUnavailableError:
            return PRESENCE_UNAVAILABLE
