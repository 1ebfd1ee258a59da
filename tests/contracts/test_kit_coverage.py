"""The kit covers what the registry holds: a new mapping needs no test code, and a type it cannot build says how."""

from typing import Any
from uuid import UUID, uuid4

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.events import DomainEvent
from domain.registry import REGISTRY, EventRegistry
from herald_contracts import CONTRACTS, MappingContracts, StrategyError
from tests.contracts.kit import QUICK, InvoicePaid, failures, kit_for, mapping, run_suite, suite_ids


class Money:
    """A value hypothesis cannot infer: its constructor argument has no annotation."""

    def __init__(self, cents) -> None:  # type: ignore[no-untyped-def]
        self.cents = cents


@attrs.frozen(kw_only=True)
class RefundIssued(DomainEvent):
    user_id: UUID
    amount: Money


@attrs.frozen(kw_only=True)
class Line:
    sku: str
    price: Money


@attrs.frozen(kw_only=True)
class OrderPlaced(DomainEvent):
    user_id: UUID
    lines: list[Line]
    tags: frozenset[str]
    coupon: str | None


@attrs.frozen
class RefundPayload:
    user_id: UUID
    amount_cents: int


def refund_payload(event: RefundIssued) -> dict[str, Any]:
    return {"user_id": event.user_id, "amount_cents": event.amount.cents}


REFUND = mapping(RefundIssued, "refund.issued", payload_extractor=refund_payload, payload_type=RefundPayload)
CENTS = st.builds(Money, st.integers(min_value=0, max_value=10**9))


def test_a_mapping_added_to_the_registry_is_covered_with_no_new_test_code() -> None:
    # An event type no service would use, so this stays green after a service maps its own InvoicePaid.
    paid = mapping(InvoicePaid, "kit_probe.invoice_paid", user_id_extractor=lambda e: e.payer_id)
    extended = EventRegistry([*REGISTRY, paid])
    ids = suite_ids(MappingContracts(extended))
    assert [i for i in ids if i.startswith("kit_probe.")] == [f"kit_probe.invoice_paid-{c}" for c in CONTRACTS]
    assert len(ids) == len(extended) * len(CONTRACTS)
    outcomes = run_suite(MappingContracts(extended, hypothesis_settings=QUICK))
    assert failures(outcomes) == {}
    assert "kit_probe.invoice_paid-no_secrets" in outcomes


def test_a_field_hypothesis_cannot_build_names_the_field_and_the_hook() -> None:
    with pytest.raises(StrategyError) as caught:
        kit_for(REFUND).events_of(RefundIssued)
    message = str(caught.value)
    assert "hypothesis cannot generate RefundIssued.amount (type Money)" in message
    assert "field_strategies={(RefundIssued, 'amount'): st.builds(...)}" in message
    assert "strategies={Money: st.builds(...)}" in message


def test_the_error_fails_every_generated_case_of_that_mapping() -> None:
    failed = failures(run_suite(kit_for(REFUND)))
    assert sorted(failed) == sorted(f"refund.issued-{c}" for c in CONTRACTS if c != "category")
    assert all("RefundIssued.amount" in message for message in failed.values())


@pytest.mark.parametrize(
    "hook",
    [{"field_strategies": {(RefundIssued, "amount"): CENTS}}, {"strategies": {Money: CENTS}}],
    ids=["by-field", "by-type"],
)
def test_a_registered_strategy_fixes_it(hook: dict[str, Any]) -> None:
    assert failures(run_suite(kit_for(REFUND, **hook))) == {}


def test_nested_attrs_classes_and_containers_are_built_field_by_field() -> None:
    with pytest.raises(StrategyError, match=r"OrderPlaced\.lines -> Line\.price \(type Money\)"):
        kit_for(mapping(OrderPlaced, "order.placed")).events_of(OrderPlaced)
    kit = kit_for(mapping(OrderPlaced, "order.placed"), field_strategies={(Line, "price"): CENTS})

    @QUICK
    @given(kit.events_of(OrderPlaced))
    def generated(event: OrderPlaced) -> None:
        assert all(isinstance(line.price.cents, int) for line in event.lines)
        assert isinstance(event.tags, frozenset)

    generated()


def test_every_contract_of_one_event_in_one_call() -> None:
    paid = mapping(InvoicePaid, "invoice.paid", user_id_extractor=lambda e: e.payer_id)
    event = InvoicePaid(invoice_id=uuid4(), payer_id=uuid4(), amount_cents=100, note="ok")
    kit_for(paid).check_event(paid, event)


def test_an_event_contract_needs_an_event() -> None:
    with pytest.raises(TypeError, match="checked against an event"):
        kit_for(REFUND).check("json_safety", REFUND)
