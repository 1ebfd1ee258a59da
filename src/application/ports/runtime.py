"""What the use cases need of the process they run in: background work, rendering, the time."""

from collections.abc import Coroutine
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID


class BackgroundTasks(Protocol):
    """Runs work after the request returns, and stops it when the service stops."""

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        """Start ``work`` in the background."""


class ReportRenderer(Protocol):
    """Produces the finished report; may raise to fail the generation."""

    async def render(self, report_id: UUID, title: str) -> str:
        """Return the download URL of the rendered report."""
        ...


class Clock(Protocol):
    """The current time (a test passes a fixed one)."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...
