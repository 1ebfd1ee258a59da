"""The connection pool on PostgreSQL: a fixed set of connections, shared, never opened and closed per call."""

import asyncio

from sqlalchemy import text

from infrastructure.persistence.database import Database


async def test_more_concurrent_callers_than_connections_share_the_pool_without_opening_more(
    postgres_database: str,
) -> None:
    # Overflow connections, opened under load and closed as soon as they were given back, cost a connect per
    # transaction; and under a sustained load the callers waiting behind that churn ran into the pool timeout.
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
