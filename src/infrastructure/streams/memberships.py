"""Membership ends: a user leaves a group on every process, in order with the group's events."""

from uuid import UUID

from domain.ports import SSEPublisherProtocol
from domain.sse import Group
from infrastructure.streams.signals import unwatched_event


class GroupLeaves:
    """``Memberships`` through the broker: the leave is published to the group like one of its events.

    Whatever broker carries the group's events carries the leave in the same
    order, so no event published after the leave reaches the user's streams
    on any process (see :func:`~infrastructure.streams.signals.unwatched_event`).
    """

    def __init__(self, publisher: SSEPublisherProtocol) -> None:
        self._publisher = publisher

    async def end(self, user_id: UUID, group: Group) -> None:
        await self._publisher.publish(unwatched_event(user_id, group))
