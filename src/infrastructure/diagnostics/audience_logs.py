"""The logs one SSE event was written to, named as the diagnostics answer names them."""

from collections.abc import Iterator
from uuid import UUID

from application.ports.diagnostics import Addressed
from domain.sse import Group


def logs_of(event: Addressed) -> Iterator[tuple[str, UUID | Group | None]]:
    """(name, audience) of each log: each user's and the group's, or (None) the broadcasts'."""
    if event.broadcast:
        yield "broadcast", None
        return
    for user in event.users:
        yield f"user:{user}", user
    if event.group is not None:
        yield f"group:{event.group}", Group.parse(event.group)
