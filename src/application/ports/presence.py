"""Who is connected to each group, across every process."""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

import attrs

from domain.sse import Group


class PresenceUnavailableError(Exception):
    """Presence cannot be read right now (its store is unreachable)."""


@attrs.frozen
class PresentMember:
    """A user connected to a group: how many streams they hold in it, and since when they have been present."""

    user_id: UUID
    streams: int
    since: datetime


@attrs.frozen
class PresencePage:
    """The exact number of users present in a group, and a page of them in user id order."""

    count: int
    members: tuple[PresentMember, ...] = ()
    next: UUID | None = None
    """The last member of this page when more follow: pass it as ``after`` for the next page."""
    version: int = 0
    """The group's presence version as read: the ``presence.*`` events of later versions change this answer."""


@runtime_checkable
class Presence(Protocol):
    """Who is connected to each group, across every process; raises :class:`PresenceUnavailableError` on reads."""

    def track(self, user_id: UUID, groups: Iterable[Group]) -> Callable[[], None]:
        """Count one open stream of ``user_id`` in each of ``groups``; call the returned function when it closes."""
        ...

    async def count(self, group: Group) -> int:
        """How many users are present in ``group`` (each once, however many streams they hold)."""
        ...

    async def members(self, group: Group, *, after: UUID | None, limit: int) -> PresencePage:
        """Up to ``limit`` members of ``group`` whose user id sorts after ``after``, and the count."""
        ...
