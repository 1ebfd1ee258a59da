"""Throwaway events and a runner for testing the contract kit against registries built in the test."""

from typing import Any
from uuid import UUID

import attrs
from hypothesis import HealthCheck, Phase, settings

from domain.events import DomainEvent
from domain.registry import DomainToSSEMapping, EventRegistry
from domain.sse import SSECategory
from herald_contracts import MappingContracts

#: Few examples, no shrinking, no example database: these tests run the kit, they do not hunt for bugs.
QUICK = settings(
    max_examples=15,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)


@attrs.frozen(kw_only=True)
class InvoicePaid(DomainEvent):
    invoice_id: UUID
    payer_id: UUID
    amount_cents: int
    note: str


@attrs.frozen(kw_only=True)
class PasswordReset(DomainEvent):
    user_id: UUID
    password: str


@attrs.frozen
class Unchecked:
    """The payload_type of the throwaway mappings below: these tests check payloads, not their schema."""


def mapping(event: type[DomainEvent], sse_event_type: str, **options: Any) -> DomainToSSEMapping:
    if "payload_extractor" in options:
        options.setdefault("payload_type", Unchecked)
    return DomainToSSEMapping(
        domain_event=event, sse_event_type=sse_event_type, category=SSECategory.SYSTEM, description="Test.", **options
    )


def kit_for(*mappings: DomainToSSEMapping, **options: Any) -> MappingContracts:
    return MappingContracts(EventRegistry(mappings), hypothesis_settings=QUICK, **options)


def suite_ids(kit: MappingContracts) -> list[str]:
    """The ids pytest gives the cases of ``kit.pytest_suite()``."""
    [parametrize] = kit.pytest_suite().pytestmark  # type: ignore[attr-defined]
    return [case.id for case in parametrize.args[1]]


def run_suite(kit: MappingContracts) -> dict[str, BaseException | None]:
    """Run every case of ``kit.pytest_suite()`` as pytest would: the error of each case id, or None."""
    suite = kit.pytest_suite()
    [parametrize] = suite.pytestmark  # type: ignore[attr-defined]
    outcomes: dict[str, BaseException | None] = {}
    for case in parametrize.args[1]:
        mapping, contract = case.values
        try:
            suite(mapping=mapping, contract=contract)
        except Exception as error:
            outcomes[case.id] = error
        else:
            outcomes[case.id] = None
    return outcomes


def failures(outcomes: dict[str, BaseException | None]) -> dict[str, str]:
    return {case: str(error) for case, error in outcomes.items() if error is not None}
