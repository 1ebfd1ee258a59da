"""The database: one async engine, from ``HERALD_DATABASE_URL``, and the schema brought up to date at start.

SQLite (the zero-setup default) takes one writer at a time: here every
transaction on it waits its turn in the event loop, instead of failing on
SQLite's lock after its busy timeout. On PostgreSQL the turns are the pool's
connections, given in the order they were asked for: the pool's own queue
lets a caller that asks while a waiter is being woken take the connection,
and the waiter goes to the back, so under a sustained load some callers
waited out the timeout while others never waited.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from application.ports.unit_of_work import StorageUnavailableError

logger = logging.getLogger(__name__)

#: Longest wait for a connection (a new one, or one from the pool) before the database counts as unavailable.
_CONNECT_SECONDS = 5.0
#: Key of the PostgreSQL advisory lock under which one process at a time migrates.
_MIGRATION_LOCK = 0x4E52_414C


class Database:
    """The engine and how to hold a connection of it."""

    def __init__(self, url: str, *, pool_size: int = 10, wait_seconds: float = _CONNECT_SECONDS) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.is_postgresql = parsed.get_backend_name() == "postgresql"
        self.display_url = parsed.render_as_string(hide_password=True)
        if self.is_sqlite and parsed.database in (None, "", ":memory:"):
            # One connection, or each would see a database of its own.
            self.engine: AsyncEngine = create_async_engine(url, poolclass=StaticPool)
        else:
            # A database that does not answer is an outage within seconds, not a request hanging for a minute.
            connect_args = {"timeout": wait_seconds} if self.is_postgresql else {}
            # Every connection is kept open: the pool's overflow connections, opened under load and closed as
            # soon as they are given back, cost a connect per transaction for as long as the load lasts.
            self.engine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=0,
                pool_pre_ping=True,
                pool_timeout=wait_seconds,
                connect_args=connect_args,
            )
        # asyncio's semaphore is first come, first served; on SQLite a turn lasts one transaction, however long.
        self._turns = asyncio.Semaphore(1 if self.is_sqlite else pool_size)
        self._wait = None if self.is_sqlite else wait_seconds
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection, in turn; raises :class:`StorageUnavailableError` when none can be had (on PostgreSQL,
        when no turn comes within the wait, or the connection cannot be opened within it)."""
        try:
            async with asyncio.timeout(self._wait):
                await self._turns.acquire()
        except TimeoutError as error:
            raise unavailable("every connection stayed busy") from error
        try:
            try:
                connection = await self.engine.connect()
            except (DBAPIError, OSError, PoolTimeoutError) as error:
                raise unavailable(type(error).__name__) from error
            try:
                yield connection
            finally:
                await connection.close()
        finally:
            self._turns.release()

    async def migrate(self) -> None:
        """Upgrade the schema to the newest migration (one process at a time on PostgreSQL)."""
        async with self.connect() as connection:
            if self.is_postgresql:
                await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            try:
                await connection.run_sync(upgrade)
                await connection.commit()
            finally:
                if self.is_postgresql:
                    await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
        logger.info("database schema is up to date", extra={"database": self.display_url})

    async def aclose(self) -> None:
        await self.engine.dispose()


def unavailable(why: str) -> StorageUnavailableError:
    """The error a caller of the database gets when it is away (the 503 of the API)."""
    return StorageUnavailableError(f"the database is unavailable ({why})")


def is_outage(error: BaseException) -> bool:
    """Whether a database error means the database is away (rather than a statement being wrong)."""
    return isinstance(error, DBAPIError) and (error.connection_invalidated or isinstance(error.orig, OSError))


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, found inside the installed package (no ``alembic.ini`` needed)."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("infrastructure.persistence") / "migrations"))
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str = "base") -> None:
    command.downgrade(alembic_config(connection), revision)


def _sqlite_pragmas(dbapi_connection: object, _: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
