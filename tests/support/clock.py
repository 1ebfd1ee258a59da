"""A clock the test moves by hand, for expiry without waiting."""

from datetime import UTC, datetime, timedelta


class SteppingClock:
    """Stands still until :meth:`advance` moves it."""

    def __init__(self) -> None:
        self._now = datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
