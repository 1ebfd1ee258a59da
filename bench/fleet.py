"""Several Herald processes on one Redis, and clients that leave a stopped one: what ``--presence`` and
``--storm`` share."""

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from tests.support.processes import free_port

from bench.harness import Target, serving, wait_healthy
from bench.loadgen import StreamClient

#: How long the bench waits for processes to start or stop, or for streams to end, before it gives up.
SETTLE_LIMIT_SECONDS = 90.0

#: Reconnects a client that lost its stream: whether its stream opened again in the end.
Reopen = Callable[[StreamClient], Coroutine[Any, Any, bool]]


class Fleet:
    """The Herald processes of the run, in the order the streams were dealt to them."""

    def __init__(self, stack: contextlib.ExitStack, env: dict[str, str]) -> None:
        self._stack, self._env = stack, env
        self.servers: list[Target] = []

    async def start(self) -> Target:
        """One more process (it stops with the run, if it was not stopped before)."""
        server = self._stack.enter_context(serving(Target("herald", free_port(), self._env)))
        await wait_healthy(server.port, SETTLE_LIMIT_SECONDS)  # two at once, each migrating the database
        return server

    @property
    def pids(self) -> list[int]:
        return [pid(server) for server in self.servers]


def pid(server: Target) -> int:
    assert server.server is not None
    return server.server.pid


def close(clients: Sequence[StreamClient]) -> None:
    for client in clients:
        client.close()


async def leave(clients: Sequence[StreamClient], server: Target, reopen: Reopen | None) -> dict[str, float]:
    """Stop ``server`` with SIGTERM and wait until it ended every open stream of ``clients``, and until it exited.

    With ``reopen``, each client is handed to it as soon as its stream ended
    (a reconnect elsewhere, as a load balancer would send it); the figures
    then cover the reconnects too.
    """
    loop = asyncio.get_running_loop()
    ended = asyncio.Event()
    reopened: list[asyncio.Task[bool]] = []
    open_ = [client for client in clients if client.transport is not None]
    waiting = len(open_)

    def on_end(client: StreamClient) -> None:
        nonlocal waiting
        client.on_end = None
        if reopen is not None:
            reopened.append(loop.create_task(reopen(client)))
        waiting -= 1
        if not waiting:
            ended.set()

    for client in open_:
        client.resume, client.on_end = False, on_end
    assert server.server is not None
    started = time.monotonic()
    server.server.terminate()
    exited = loop.create_task(exit_of(server))
    if open_:
        await asyncio.wait_for(ended.wait(), SETTLE_LIMIT_SECONDS)
    figures = {"streams": len(open_), "ended_s": time.monotonic() - started}
    if reopen is not None:
        failed = sum(not ok for ok in await asyncio.gather(*reopened))
        figures.update(reconnected_s=time.monotonic() - started, reconnect_failures=failed)
    figures["exited_s"] = await exited - started
    figures["stopped_at"] = started
    return figures


async def exit_of(server: Target) -> float:
    """When ``server``'s process exited (``time.monotonic()``)."""
    assert server.server is not None
    await asyncio.to_thread(server.server.wait, SETTLE_LIMIT_SECONDS)
    return time.monotonic()
