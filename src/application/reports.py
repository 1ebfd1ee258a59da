"""Use case: a user requests a report that is generated in the background."""

import asyncio
import logging
from collections.abc import Sequence
from uuid import UUID

from application.ports import BackgroundTasks, ReportRenderer
from domain.events import ReportCompleted, ReportFailed, ReportProgressed, ReportRequested
from domain.ids import new_event_id
from domain.ports import EventBusProtocol

logger = logging.getLogger(__name__)

DEFAULT_STEPS = ("collecting data", "aggregating", "rendering")


class LinkRenderer:
    """Sample renderer: the report is a link; a fork renders a real document here."""

    async def render(self, report_id: UUID, title: str) -> str:
        return f"/reports/{report_id}.pdf"


class RequestReport:
    """Accept a report request now, generate it step by step in the background.

    Each step raises a ``ReportProgressed`` event, so the owner's stream shows
    progress; the outcome is ``ReportCompleted`` or ``ReportFailed``.
    """

    def __init__(
        self,
        bus: EventBusProtocol,
        tasks: BackgroundTasks,
        renderer: ReportRenderer,
        *,
        step_delay_seconds: float = 0.5,
        steps: Sequence[str] = DEFAULT_STEPS,
    ) -> None:
        self._bus = bus
        self._tasks = tasks
        self._renderer = renderer
        self._step_delay = step_delay_seconds
        self._steps = tuple(steps)

    async def __call__(self, owner_id: UUID, title: str) -> UUID:
        """Raise ``ReportRequested`` and start generation; return the report's id."""
        report_id = new_event_id()
        await self._bus.publish(ReportRequested(report_id=report_id, owner_id=owner_id, title=title))
        self._tasks.spawn(self._generate(report_id, owner_id, title), name=f"report-{report_id}")
        return report_id

    async def _generate(self, report_id: UUID, owner_id: UUID, title: str) -> None:
        try:
            for done, step in enumerate(self._steps, start=1):
                await asyncio.sleep(self._step_delay)
                percent = done * 100 // (len(self._steps) + 1)
                await self._bus.publish(
                    ReportProgressed(report_id=report_id, owner_id=owner_id, percent=percent, step=step)
                )
            download_url = await self._renderer.render(report_id, title)
        except Exception as error:
            logger.warning("report %s failed: %s", report_id, type(error).__name__)
            await self._bus.publish(ReportFailed(report_id=report_id, owner_id=owner_id, reason=str(error)))
            return
        await self._bus.publish(ReportCompleted(report_id=report_id, owner_id=owner_id, download_url=download_url))
