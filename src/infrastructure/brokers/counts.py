"""What a broker's adapters count of their own work, for ``/metrics``.

Only the Redis adapters keep these counts; with the embedded broker the
container passes ``None`` instead, and their metrics are left out.
"""

from typing import Protocol


class PublishCounts(Protocol):
    """What happened to the events a publisher sent: retried, found already written, dropped, waiting."""

    @property
    def failed_attempts(self) -> int: ...

    @property
    def retried(self) -> int: ...

    @property
    def deduplicated(self) -> int: ...

    @property
    def dropped_by_type(self) -> dict[str, int]: ...

    @property
    def waiting(self) -> int: ...


class ConnectionCounts(Protocol):
    """How often a subscriber's pub/sub connections were lost, and reconnected."""

    @property
    def reconnects(self) -> int: ...

    @property
    def outages(self) -> int: ...
