"""A repository is added in one place per unit of work: each one builds what the port declares."""

import typing

from application.ports import UnitOfWork
from infrastructure.persistence.repositories import SQL_REPOSITORIES
from tests.support.memory_units import MEMORY_REPOSITORIES


def test_the_sql_and_in_memory_units_of_work_build_every_repository_the_port_declares() -> None:
    declared = set(typing.get_type_hints(UnitOfWork))
    assert set(SQL_REPOSITORIES) == declared
    assert set(MEMORY_REPOSITORIES) == declared
