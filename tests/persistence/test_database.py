"""The connections to PostgreSQL: a fixed set, shared in the order callers asked, never opened per call."""

import asyncio
import contextlib
import time

import pytest
from sqlalchemy import text

from application.unit_of_work import StorageUnavailableError
from infrastructure.persistence.database import Database


async def test_more_concurrent_callers_than_connections_share_the_pool_without_opening_more(
    postgres_database: str,
) -> None:
    # Overflow connections, opened under load and closed as soon as they were given back, cost a connect per
    # transaction for as long as the load lasted.
    database = Database(postgres_database, pool_size=4)
    backends: list[int] = []

    async def caller() -> None:
        for _ in range(10):
            async with database.connect() as connection:
                backends.append(int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()))

    try:
        await asyncio.gather(*(caller() for _ in range(30)))
    finally:
        await database.aclose()

    assert len(backends) == 300
    assert len(set(backends)) <= 4


async def test_under_a_sustained_load_every_caller_gets_a_connection_in_its_turn(postgres_database: str) -> None:
    # The pool's queue alone let callers that asked while a waiter was being woken take the connection, and
    # sent the waiter to the back: under a sustained load some waited out the timeout while others never waited.
    # Fair turns keep every wait near (callers / connections) x one short transaction, a small part of the run
    # however busy the machine; without them one caller waited about as long as the whole run. The pool's own
    # timeout is left long, so that a slow machine shows up in the ratio, not as an error.
    database = Database(postgres_database, pool_size=2, wait_seconds=60.0)
    done = 0
    longest_wait = 0.0

    async def caller() -> None:
        nonlocal done, longest_wait
        for _ in range(150):
            asked = time.monotonic()
            async with database.connect() as connection:
                longest_wait = max(longest_wait, time.monotonic() - asked)
                await connection.execute(text("SELECT 1"))
            done += 1

    started = time.monotonic()
    try:
        await asyncio.gather(*(caller() for _ in range(40)))
    finally:
        await database.aclose()
    run = time.monotonic() - started
    assert done == 40 * 150
    print(f"\nlongest wait for a connection {longest_wait * 1000:.0f} ms of a {run:.1f} s run")
    assert longest_wait < run / 10  # fair: 20 turns ahead at most, of 3,000 in the run


async def test_a_caller_whose_turn_does_not_come_in_time_is_told_the_database_is_unavailable(
    postgres_database: str,
) -> None:
    database = Database(postgres_database, pool_size=2, wait_seconds=0.2)
    try:
        async with database.connect(), database.connect():
            with pytest.raises(StorageUnavailableError, match="every connection stayed busy"):
                async with database.connect():
                    pass
        # A caller cancelled while it waits leaves every turn to the others.
        async with database.connect(), database.connect():
            waiting = asyncio.create_task(_hold(database))
            for _ in range(5):
                await asyncio.sleep(0)  # until it waits for a turn
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
        async with database.connect(), database.connect():
            pass  # both turns are free again
    finally:
        await database.aclose()


async def _hold(database: Database) -> None:
    async with database.connect():
        await asyncio.Event().wait()
