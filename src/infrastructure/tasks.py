"""Background work owned by the application, cancelled cleanly when it stops."""

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from infrastructure.redis_deadline import outside_requests

logger = logging.getLogger(__name__)


class TaskSupervisor:
    """Keeps a reference to every background task (so none is garbage-collected mid-run),
    logs the ones that fail and cancels the rest on shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        # The request's context goes along (its log fields), but not its Redis budget: the work outlives it.
        context = contextvars.copy_context()
        context.run(outside_requests)
        task = asyncio.get_running_loop().create_task(work, name=name, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    @property
    def running(self) -> int:
        """How many tasks are still running."""
        return len(self._tasks)

    async def aclose(self) -> None:
        """Cancel every running task and wait for them to unwind."""
        tasks = tuple(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s failed", task.get_name(), exc_info=task.exception())


async def open_task_supervisor() -> AsyncIterator[TaskSupervisor]:
    """Background tasks for the application's lifetime; cancelled on shutdown."""
    supervisor = TaskSupervisor()
    yield supervisor
    await supervisor.aclose()
