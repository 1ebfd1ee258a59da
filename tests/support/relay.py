"""A relay in front of Herald, as a load balancer: the browser's origin stays the same whichever server answers,
and while none does, a connection is closed at once (the browser tries again later)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.support.server import RunningHerald


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until ``reader``'s side closes, then close ``writer``'s: one side closing closes the other."""
    try:
        with contextlib.suppress(OSError):
            while data := await reader.read(65_536):
                writer.write(data)
                await writer.drain()
    finally:
        writer.close()


class Relay:
    """Where the browser connects, as to a load balancer: each connection goes to the Herald behind it.

    While there is none (``upstream`` is None, the server is down), a connection
    is closed at once, and the browser tries again later.
    """

    def __init__(self) -> None:
        self.base_url = ""
        self.upstream: RunningHerald | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        """Relay one connection both ways until either side closes it."""
        self._writers.add(client_writer)
        try:
            if self.upstream is None:
                return
            url = httpx.URL(self.upstream.base_url)
            with contextlib.suppress(OSError):  # refused: as if there were none
                server_reader, server_writer = await asyncio.open_connection(url.host, url.port)
                self._writers.add(server_writer)
                await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))
        finally:
            client_writer.close()

    def close_connections(self) -> None:
        for writer in self._writers:
            writer.close()


@asynccontextmanager
async def relay() -> AsyncIterator[Relay]:
    """A :class:`Relay` on a free loopback port, with nothing behind it yet."""
    gateway = Relay()
    server = await asyncio.start_server(gateway.connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gateway.base_url = f"http://127.0.0.1:{port}"
    async with server:
        try:
            yield gateway
        finally:
            gateway.close_connections()
