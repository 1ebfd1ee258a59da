"""The command docs/architecture/persistence.md gives for a new migration, run as a fork would: on a copy of
the project whose ``tables.py`` gained a table. The file it writes is numbered after the newest migration,
imports the column types of the project's own it uses, passes ``make lint`` as written, and takes a real
database up and down.

The copy holds ``src/infrastructure``, alembic.ini and pyproject.toml (ruff's configuration); the command
runs at the repository root with ``ALEMBIC_CONFIG`` naming the copy's alembic.ini, whose paths are its own.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = pytest.mark.spawns  # make, alembic and ruff, each a process of its own

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture" / "persistence.md"
TABLES = Path("src/infrastructure/persistence/tables.py")
VERSIONS = Path("src/infrastructure/persistence/migrations/versions")

#: What a fork appends to tables.py: a table with UtcDateTime columns, and a column type of its own.
INVOICES = '''

class Cents(TypeDecorator[int]):
    """An amount of money in cents: a second custom type, so the rendering is not UtcDateTime's alone."""

    impl = BigInteger
    cache_ok = True


invoices = Table(
    "invoices",
    metadata,
    Column("invoice_id", Uuid(), primary_key=True),
    Column("payer_id", Uuid(), nullable=False),
    Column("amount", Cents(), nullable=False),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("paid_at", UtcDateTime()),
    Index(None, "payer_id", "issued_at"),
)
'''


def documented_command() -> str:
    """The one ``make migration`` line of the doc's shell blocks: the test runs what a reader would type."""
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.DOTALL)
    commands = [line for block in blocks for line in block.splitlines() if line.startswith("make migration ")]
    assert len(commands) == 1, f"{DOC.name} should show one `make migration` command, shows {commands}"
    return commands[0]


def numbered(versions: Path) -> list[str]:
    return sorted(path.name for path in versions.glob("*.py"))


@pytest.fixture(scope="module")
def fork(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The copy, after the documented command wrote its migration."""
    fork = tmp_path_factory.mktemp("fork")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "src" / "infrastructure", fork / "src" / "infrastructure", ignore=ignore)
    for name in ("alembic.ini", "pyproject.toml"):
        shutil.copy(ROOT / name, fork / name)
    with (fork / TABLES).open("a") as tables:
        tables.write(INVOICES)
    done = run_documented_command(fork)
    assert done.returncode == 0, done.stdout + done.stderr
    return fork


def run_documented_command(fork: Path) -> subprocess.CompletedProcess[str]:
    # VENV: the environment running the tests, wherever it is (the Makefile's default is .venv).
    env = os.environ | {"ALEMBIC_CONFIG": str(fork / "alembic.ini"), "VENV": sys.prefix}
    command = documented_command()
    return subprocess.run(
        command, shell=True, cwd=ROOT, env=env, check=False, capture_output=True, text=True, timeout=60
    )


def written(fork: Path) -> Path:
    """The one file the command added to the copy's migrations."""
    (added,) = set(numbered(fork / VERSIONS)) - set(numbered(ROOT / VERSIONS))
    return fork / VERSIONS / added


def test_the_migration_is_numbered_after_the_newest(fork: Path) -> None:
    newest = max(int(name.split("_")[0]) for name in numbered(ROOT / VERSIONS))
    following = f"{newest + 1:04d}"
    assert written(fork).name == f"{following}_add_invoices.py"
    # Read, not imported: the migration imports the copy's tables.py, which this process does not see.
    text = written(fork).read_text()
    assert f'revision: str = "{following}"\n' in text
    assert f'down_revision: str | None = "{newest:04d}"\n' in text


def test_the_migration_imports_the_column_types_it_uses(fork: Path) -> None:
    text = written(fork).read_text()
    assert "from infrastructure.persistence.tables import Cents, UtcDateTime\n" in text
    assert 'sa.Column("amount", Cents(), nullable=False)' in text
    assert 'sa.Column("paid_at", UtcDateTime(), nullable=True)' in text
    assert "infrastructure.persistence.tables.UtcDateTime" not in text


def test_the_migration_passes_the_lint_as_written(fork: Path) -> None:
    """``make lint``'s two commands, with the project's configuration (the copy's pyproject.toml).
    Ruff's F821 also fails a name used and not imported."""
    path = str(written(fork))
    for lint in (["check", "--no-fix", path], ["format", "--check", path]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *lint], cwd=fork, check=False, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_command_writes_nothing_when_nothing_changed(fork: Path) -> None:
    before = numbered(fork / VERSIONS)
    done = run_documented_command(fork)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no migration written" in done.stdout
    assert numbered(fork / VERSIONS) == before


def alembic(fork: Path, database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"HERALD_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "alembic", "-c", str(fork / "alembic.ini"), *arguments]
    return subprocess.run(command, cwd=fork, env=env, check=False, capture_output=True, text=True, timeout=60)


def invoice_columns(connection: Connection) -> dict[str, Any] | None:
    inspector = inspect(connection)
    if "invoices" not in inspector.get_table_names():
        return None
    return {column["name"]: column["type"] for column in inspector.get_columns("invoices")}


async def test_the_migration_upgrades_and_downgrades_a_database(fork: Path, database_url: str) -> None:
    upgraded = alembic(fork, database_url, "upgrade", "head")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    # Alembic's own drift check: the copy's model and its migrations, new one included, agree.
    checked = alembic(fork, database_url, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            columns = await connection.run_sync(invoice_columns)
        assert columns is not None
        assert set(columns) == {"invoice_id", "payer_id", "amount", "issued_at", "paid_at"}
        if engine.dialect.name == "postgresql":
            assert columns["paid_at"].timezone  # UtcDateTime's impl, timestamptz, not a naive timestamp
        downgraded = alembic(fork, database_url, "downgrade", "-1")
        assert downgraded.returncode == 0, downgraded.stdout + downgraded.stderr
        async with engine.connect() as connection:
            assert await connection.run_sync(invoice_columns) is None
    finally:
        await engine.dispose()
