"""Fixtures shared by every test layer."""

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from infrastructure.container import Container
from infrastructure.settings import Settings
from tests.support.postgres import fresh_database, private_postgres
from tests.support.prerequisites import install_for
from tests.support.processes import private_redis, private_redis_cluster

TEST_SECRET = "test-secret-" + "x" * 32

# Timings are not what the property tests check, and these machines are noisy:
# no per-example deadline, so a slow first example never fails the suite.
hypothesis_settings.register_profile("herald", deadline=None, print_blob=True)
# The inner loop (make check): fewer examples of each property; make test and CI run the full count.
hypothesis_settings.register_profile("check", parent=hypothesis_settings.get_profile("herald"), max_examples=25)
hypothesis_settings.load_profile("herald")


#: Session fixtures that start a server of these programs: a test that uses one needs them.
SERVER_FIXTURES = {
    "shared_redis_url": "redis-server",
    "redis_cluster_url": "redis-server",
    "postgres_url": "postgresql",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what each test starts: ``needs`` the programs behind its server fixtures, ``spawns`` any of them.

    A fixture that asks for a server by parameter (``getfixturevalue``) marks that parameter itself.

    ``make check`` runs the tests that are not ``spawns``.
    """
    for item in items:
        needs = {program for fixture, program in SERVER_FIXTURES.items() if fixture in item.fixturenames}
        if needs:
            item.add_marker(pytest.mark.needs(*sorted(needs)))
        if item.get_closest_marker("needs") is not None:
            item.add_marker(pytest.mark.spawns)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Install the programs the selected tests need before the first of them starts its timeout."""
    if not session.config.option.collectonly:
        install_for(session.items)


def fast_settings(**overrides: Any) -> Settings:
    """Settings for tests: a fixed secret, fast reports and heartbeats."""
    values: dict[str, Any] = {
        "jwt_secret": TEST_SECRET,
        "jwt_secret_is_generated": False,
        "report_step_seconds": 0.01,
        "database_url": "sqlite+aiosqlite://",  # in memory: each container has a database of its own
        "sse_heartbeat_seconds": 15.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def shared_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server for the whole session, shared by the Redis tests (each under its own key prefix).

    The suite never connects to a Redis it did not start: it passes on a
    machine with no Redis running, and never touches one that is.
    """
    with private_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Redis Cluster (three primaries, three replicas) for the whole session; the URL names one node."""
    with private_redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster.url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL for the whole session (its own port and data directory, removed at the end).

    Each test that uses it takes a database of its own (:func:`postgres_database`).
    """
    with private_postgres() as server:
        yield server.url


@pytest.fixture
async def postgres_database(postgres_url: str) -> AsyncIterator[str]:
    """A database of the test's own on the session's private PostgreSQL, dropped afterwards."""
    async with fresh_database(postgres_url) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.needs("postgresql"))])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database Herald runs on: a SQLite file, and a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'herald.sqlite3'}"
    return str(request.getfixturevalue("postgres_database"))


@pytest.fixture
def make_container() -> Callable[..., Container]:
    """Build a container whose settings are :func:`fast_settings` with overrides."""

    def make(**overrides: Any) -> Container:
        container = Container()
        container.settings.override(fast_settings(**overrides))
        return container

    return make


@pytest.fixture
def user_id() -> uuid.UUID:
    return uuid.uuid4()
