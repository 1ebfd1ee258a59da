"""Alembic's environment: migrations run on the connection Herald hands over (``Database.migrate``),
or, from the command line, on ``HERALD_DATABASE_URL`` (``alembic -c alembic.ini upgrade head``)."""

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from infrastructure.persistence.tables import metadata
from infrastructure.settings import Settings


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    engine = create_async_engine(Settings.from_env().database_url)
    async with engine.begin() as connection:
        await connection.run_sync(run_on)
    await engine.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    run_on(given)
else:
    asyncio.run(run_from_settings())
