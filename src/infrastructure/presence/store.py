"""Where presence is kept: what a process holds in each group, summed over every process."""

from collections.abc import Collection, Hashable, Mapping
from typing import NamedTuple, Protocol
from uuid import UUID

import attrs

from application.ports import PresencePage
from domain.sse import Group

#: In :meth:`PresenceStore.apply`: the process holds the user in the group no more.
GONE = -1


class Change(NamedTuple):
    """A user came into a group or left it, making the group's presence ``version``."""

    group: Group
    user_id: UUID
    version: int


@attrs.frozen
class Changes:
    """What an :meth:`PresenceStore.apply` or :meth:`PresenceStore.reap` changed for the group's members."""

    joined: tuple[Change, ...] = ()
    """Users now present in a group who were not (their first holder)."""
    left: tuple[Change, ...] = ()
    """Users present in a group no more (their last holder is gone)."""
    lost: frozenset[Hashable] = frozenset()
    """Partitions where the store had no lease of the process: what the process held there is gone from it."""


class PresenceStore(Protocol):
    """A process's contributions to presence, their sum per group, and the leases that end a dead process's.

    Raises ``PresenceUnavailableError`` when it cannot be reached.
    """

    def partition(self, group: Group) -> Hashable:
        """The lease a contribution to ``group`` lives under (one per process and partition)."""
        ...

    async def apply(self, process: str, changes: Mapping[Group, Mapping[UUID, int]], lease_ms: int) -> Changes:
        """Set ``process``'s streams per user in each group (``GONE``: none), renewing its leases there."""
        ...

    async def renew(self, process: str, partitions: Collection[Hashable], lease_ms: int) -> Changes:
        """Renew ``process``'s leases; ``lost`` names the partitions where there was none to renew."""
        ...

    async def reap(self) -> Changes:
        """Take out the contributions of every process whose lease ran out; ``left`` is who that took away."""
        ...

    async def depart(self, process: str, partitions: Collection[Hashable], after_ms: int) -> None:
        """``process`` stops: its leases run out ``after_ms`` from now, unless it was back by then."""

    async def count(self, group: Group) -> int:
        """Users present in ``group``."""
        ...

    async def members(self, group: Group, *, after: UUID | None, limit: int) -> PresencePage:
        """Up to ``limit`` members after ``after`` in user id order, and the count."""
        ...
