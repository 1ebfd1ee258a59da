"""Presence in memory, for the embedded broker: one process, so no leases and nothing to reap."""

import bisect
import time
from collections.abc import Collection, Hashable, Mapping
from datetime import UTC, datetime
from uuid import UUID

from application.ports import PresencePage, PresentMember
from domain.sse import Group
from infrastructure.presence.store import GONE, Change, Changes


class _Roster:
    """One group's members: streams and since per user, and the user ids in order for pages."""

    def __init__(self) -> None:
        self.members: dict[UUID, tuple[int, datetime]] = {}
        self.order: list[str] = []
        self.version = 0

    def bump(self) -> int:
        """The next version: one more, and never below the time in microseconds (it grows after the roster went)."""
        self.version = max(self.version + 1, time.time_ns() // 1000)
        return self.version


class MemoryPresenceStore:
    """``PresenceStore`` of one process."""

    def __init__(self) -> None:
        self._rosters: dict[Group, _Roster] = {}

    def partition(self, group: Group) -> Hashable:
        del group
        return None

    async def apply(self, process: str, changes: Mapping[Group, Mapping[UUID, int]], lease_ms: int) -> Changes:
        del process, lease_ms
        joined: list[Change] = []
        left: list[Change] = []
        now = datetime.now(UTC)
        for group, users in changes.items():
            roster = self._rosters.setdefault(group, _Roster())
            for user_id, streams in users.items():
                held = roster.members.get(user_id)
                if streams == GONE:
                    if held is not None:
                        del roster.members[user_id]
                        roster.order.pop(bisect.bisect_left(roster.order, str(user_id)))
                        left.append(Change(group, user_id, roster.bump()))
                elif held is None:
                    roster.members[user_id] = (streams, now)
                    bisect.insort(roster.order, str(user_id))
                    joined.append(Change(group, user_id, roster.bump()))
                else:
                    roster.members[user_id] = (streams, held[1])
            if not roster.members:
                del self._rosters[group]
        return Changes(tuple(joined), tuple(left))

    async def renew(self, process: str, partitions: Collection[Hashable], lease_ms: int) -> Changes:
        return Changes()

    async def reap(self) -> Changes:
        return Changes()

    async def depart(self, process: str, partitions: Collection[Hashable], after_ms: int) -> None:
        """Nothing outlives the process: its presence goes with it."""

    async def count(self, group: Group) -> int:
        roster = self._rosters.get(group)
        return len(roster.members) if roster is not None else 0

    async def members(self, group: Group, *, after: UUID | None, limit: int) -> PresencePage:
        roster = self._rosters.get(group)
        if roster is None:  # the floor of its next version, and above every earlier one
            return PresencePage(0, version=time.time_ns() // 1000)
        start = bisect.bisect_right(roster.order, str(after)) if after is not None else 0
        ids = roster.order[start : start + limit + 1]
        page = [UUID(text) for text in ids[:limit]]
        members = tuple(PresentMember(user_id, *roster.members[user_id]) for user_id in page)
        return PresencePage(len(roster.members), members, page[-1] if len(ids) > limit else None, roster.version)
