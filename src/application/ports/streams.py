"""The stream's edge: admission, per-user rates, lifetimes, who may watch a group, and leaving one."""

import enum
from collections.abc import Callable
from typing import Protocol, runtime_checkable
from uuid import UUID

from application.principal import Principal
from domain.ports import EventStream
from domain.sse import Group


class AdmissionRefusal(enum.Enum):
    """Why a stream may not open now."""

    PROCESS_FULL = "this instance holds as many streams as it may"
    USER_FULL = "too many open streams for this user"
    TOO_FAST = "too many stream opens for this user; slow down"


class StreamAdmission(Protocol):
    """Limits on open streams: per process, per user, and a per-user open rate."""

    def check(self, user_id: UUID) -> AdmissionRefusal | None:
        """None when the user may open a stream now (and count the open); otherwise why not."""
        ...

    def cancel(self, user_id: UUID) -> None:
        """Uncount an open :meth:`check` admitted: the stream did not open after all (its ticket was spent)."""

    def retry_after_seconds(self, user_id: UUID) -> int:
        """Seconds until the user's next open would be allowed by the rate."""
        ...


class UserRate(Protocol):
    """A per-user rate of some action (stream tickets, report requests)."""

    def take(self, user_id: UUID) -> bool:
        """True (and one action counted) when the user may act now."""
        ...

    def retry_after_seconds(self, user_id: UUID) -> int:
        """Seconds until the user's next action would be allowed."""
        ...


class StreamLifetimes(Protocol):
    """Ends a stream when its credential expires or its session is revoked, telling the client why."""

    def track(self, principal: Principal, stream: EventStream) -> Callable[[], None]:
        """Watch ``stream``; call the returned function when the stream is over."""
        ...


@runtime_checkable
class WatchAccess(Protocol):
    """Whether a caller may watch a group (``?watch=<kind>:<id>``): the application's rule for one kind."""

    async def may_watch(self, caller: Principal, group: Group) -> bool:
        """True when ``caller`` may receive ``group``'s events; False is answered like a missing resource."""
        ...


@runtime_checkable
class Memberships(Protocol):
    """Takes a user out of a group on every open stream, in order with the group's events."""

    async def end(self, user_id: UUID, group: Group) -> None:
        """``user_id``'s open streams stop receiving ``group`` after every event published to it so far.

        Each such stream is told which of its groups ended (``stream.unwatched``).
        """
