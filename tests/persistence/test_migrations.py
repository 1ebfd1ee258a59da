"""The migrations build exactly the model's schema on an empty database, and take it down again; they are
numbered as ``make migration`` numbers them."""

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Integer, MetaData, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from infrastructure.persistence.database import alembic_config, downgrade, upgrade
from infrastructure.persistence.tables import metadata


def differences(connection: Connection, model: MetaData = metadata) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, model))


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_the_migrations_upgrade_an_empty_database_to_the_model_and_downgrade_it(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(tables) == set()
            await connection.run_sync(upgrade)
            await connection.commit()
            # Every table of the model, whatever a fork adds, and nothing of the model left out or different.
            assert await connection.run_sync(tables) == set(metadata.tables) | {"alembic_version"}
            assert await connection.run_sync(differences) == []
            await connection.run_sync(downgrade)
            await connection.commit()
            assert await connection.run_sync(tables) == {"alembic_version"}
    finally:
        await engine.dispose()


async def test_a_model_change_without_a_migration_is_found(database_url: str) -> None:
    """The comparison above can fail: a column the migrations lack is reported."""
    changed = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["reports"].append_column(Column("added_later", Integer()))
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(upgrade)
            await connection.commit()
            found = await connection.run_sync(differences, changed)
        assert [diff[0] for diff in found] == ["add_column"]
    finally:
        await engine.dispose()


def test_the_migrations_are_numbered_one_after_the_other() -> None:
    """0001, 0002, ...: each revises the one before and its file is named after it, as env.py numbers a new one."""
    revisions = list(reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions())))
    assert [revision.revision for revision in revisions] == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
    assert [revision.down_revision for revision in revisions] == [None] + [r.revision for r in revisions[:-1]]
    for revision in revisions:
        assert revision.path is not None
        assert Path(revision.path).name.startswith(f"{revision.revision}_")
