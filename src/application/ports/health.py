"""What ``/health`` shows beside the broker's readiness: the outbox's backlog and the identity provider's keys."""

from collections.abc import Mapping
from typing import Protocol, runtime_checkable


@runtime_checkable  # Litestar checks a dependency against the handler's annotation
class OutboxBacklog(Protocol):
    """Events committed and not yet published: they wait in the database while the broker is away."""

    @property
    def backlog(self) -> int:
        """How many, as of the relay's last pass."""
        ...

    @property
    def oldest_seconds(self) -> float:
        """The age of the oldest of them."""
        ...

    @property
    def last_error(self) -> str | None:
        """Why the last pass failed, if it did."""
        ...


@runtime_checkable
class KeySetState(Protocol):
    """An identity provider's signing keys as this process holds them."""

    @property
    def state(self) -> Mapping[str, object]:
        """How many keys are held, how old they are, and why the last read failed."""
        ...
