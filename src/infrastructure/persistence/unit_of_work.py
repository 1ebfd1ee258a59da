"""The unit of work on SQLAlchemy: one transaction for the state and the durable events it raised."""

import contextlib
import logging
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from application.ports import Clock, UnitOfWork
from domain.events import DomainEvent
from domain.ports import EventBusProtocol
from infrastructure.persistence.database import Database, is_outage, unavailable
from infrastructure.persistence.outbox import Outbox
from infrastructure.persistence.repositories import SQL_REPOSITORIES

if TYPE_CHECKING:  # tracing is imported only when it is on
    from infrastructure.tracing.tracing import Carrier, Tracing

logger = logging.getLogger(__name__)


class SqlUnitOfWork(UnitOfWork):
    """``UnitOfWork``: a connection and its transaction, the repositories on it, the events recorded.

    The repositories are the port's attributes, each built from ``SQL_REPOSITORIES`` on the connection.

    At the commit, durable events become outbox rows in the same transaction;
    after it, ephemeral ones (and events no mapping stores) go to the event
    bus as events raised outside a unit of work always do, and the relay is
    woken for the durable ones. Without a commit, nothing is published. With
    tracing, the commit is a span, and the outbox rows keep its context: the
    relay's publish and every delivery continue its trace.
    """

    def __init__(
        self, database: Database, box: Outbox, bus: EventBusProtocol, clock: Clock, tracing: "Tracing | None" = None
    ) -> None:
        self._database = database
        self._outbox = box
        self._bus = bus
        self._clock = clock
        self._tracing = tracing
        self._stack = contextlib.AsyncExitStack()
        self._events: list[DomainEvent] = []
        self._durable: list[DomainEvent] = []  # split at the commit: outbox rows …
        self._after: list[DomainEvent] = []  # … and what the bus publishes once it succeeded
        self._committed = False

    async def __aenter__(self) -> Self:
        connection: AsyncConnection = await self._stack.enter_async_context(self._database.connect())
        try:
            await connection.begin()
        except DBAPIError as error:
            await self._stack.aclose()
            raise unavailable(type(error).__name__) from error
        self._connection = connection
        for name, repository in SQL_REPOSITORIES.items():
            setattr(self, name, repository(connection, locks_rows=self._database.is_postgresql))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self._stack.aclose()  # closing without a commit rolls back
        if self._committed:
            await self._after_commit()
        if error is not None and is_outage(error):  # a statement met a database that went away
            raise unavailable(type(error).__name__) from error

    def record(self, *events: DomainEvent) -> None:
        self._events.extend(events)

    async def commit(self) -> None:
        for event in self._events:
            (self._durable if self._outbox.stores(event) else self._after).append(event)
        if self._tracing is None:
            await self._commit(None)
            return
        with self._tracing.span("herald.commit", {"herald.events": len(self._durable)}):
            # The relay's publish of these events continues this span's trace, from the outbox rows.
            await self._commit(self._tracing.carrier())

    async def _commit(self, trace: "Carrier | None") -> None:
        try:
            await self._outbox.append(self._connection, self._durable, now=self._clock.now(), trace=trace)
            await self._connection.commit()
        except DBAPIError as error:
            if is_outage(error):
                raise unavailable(type(error).__name__) from error
            raise
        self._committed = True

    async def _after_commit(self) -> None:
        for event in self._after:
            await self._bus.publish(event)
        if self._durable:
            self._outbox.committed()


class SqlUnitsOfWork:
    """``UnitOfWorkFactory``: a new unit of work per use-case call, on one database."""

    def __init__(
        self, database: Database, box: Outbox, bus: EventBusProtocol, clock: Clock, tracing: "Tracing | None" = None
    ) -> None:
        self._arguments = (database, box, bus, clock, tracing)

    def __call__(self) -> SqlUnitOfWork:
        # The port's repositories are abstract to mypy until __aenter__ sets them from SQL_REPOSITORIES.
        return SqlUnitOfWork(*self._arguments)  # type: ignore[abstract]
