"""The kit can fail: each broken mapping below is caught by its contract, with a message that names it."""

import math
from uuid import UUID, uuid4

import pytest
from hypothesis import strategies as st

from domain.events import DomainEvent
from domain.registry import DomainToSSEMapping
from domain.sse import BROADCAST, SSECategory, user_field
from herald_contracts import (
    DEFAULT_SECRET_NAMES,
    ContractViolation,
    check_category,
    check_fail_open,
    check_fail_open_async,
    check_json_safety,
    check_no_secrets,
    check_payload_shape,
    check_target_user,
)
from tests.contracts.kit import InvoicePaid, PasswordReset, failures, kit_for, mapping, run_suite

SYSTEM = SSECategory.SYSTEM
TO_PAYER = user_field("payer_id")
PAID = mapping(InvoicePaid, "invoice.paid", user_id_extractor=TO_PAYER)


def invoice(**changes: object) -> InvoicePaid:
    values: dict[str, object] = {"invoice_id": uuid4(), "payer_id": uuid4(), "amount_cents": 1250, "note": "thanks"}
    return InvoicePaid(**{**values, **changes})  # type: ignore[arg-type]


def test_a_password_in_the_default_payload_fails_only_the_secret_contract() -> None:
    failed = failures(run_suite(kit_for(mapping(PasswordReset, "account.password_reset"))))
    assert list(failed) == ["account.password_reset-no_secrets"]
    message = failed["account.password_reset-no_secrets"]
    assert "data['password']" in message
    assert "looks like 'password'" in message


def test_the_deny_list_is_configurable() -> None:
    reset = mapping(PasswordReset, "account.password_reset")
    event = PasswordReset(user_id=uuid4(), password="hunter2")
    check_no_secrets(reset, event, secret_names=DEFAULT_SECRET_NAMES - {"password"})
    check_no_secrets(reset, event, allowed_keys={"password"})
    with pytest.raises(ContractViolation, match=r"data\['note'\] \(looks like 'note'\)"):
        check_no_secrets(
            mapping(InvoicePaid, "invoice.paid", user_id_extractor=TO_PAYER), invoice(), secret_names={"note"}
        )


def test_secret_keys_are_found_at_any_depth() -> None:
    nested = mapping(
        PasswordReset,
        "account.password_reset",
        payload_extractor=lambda e: {"user": {"id": e.user_id, "apiKey": "k"}, "items": [{"refresh_token": "t"}]},
    )
    with pytest.raises(ContractViolation) as caught:
        check_no_secrets(nested, PasswordReset(user_id=uuid4(), password="x"))
    assert "data['user']['apiKey'] (looks like 'api_key')" in str(caught.value)
    assert "data['items'][0]['refresh_token'] (looks like 'token')" in str(caught.value)


@pytest.mark.parametrize(
    ("extractor", "expected"),
    [
        (user_field("note"), "user_field('note') names a field typed <class 'str'>, not UUID"),
        (user_field("event_id"), "user_field('event_id') names the event's envelope"),
        (lambda e: str(e.payer_id), "the extractor returned a str, not a UUID or UUIDs"),
        (lambda e: e.event_id, "the extractor returned the event's own event_id"),
        (lambda e: BROADCAST, "declare broadcasts with to_everyone"),
        (lambda e: {e.payer_id, "someone"}, "every recipient must be a UUID"),
    ],
    ids=["str-field", "envelope-field", "returns-str", "returns-event-id", "custom-broadcast", "mixed-set"],
)
def test_a_wrong_audience_fails_the_target_user_contract(extractor: object, expected: str) -> None:
    wrong = mapping(InvoicePaid, "invoice.paid", user_id_extractor=extractor)
    with pytest.raises(ContractViolation, match=r"'invoice.paid' \(InvoicePaid\) breaks the target user contract"):
        check_target_user(wrong, invoice())
    with pytest.raises(ContractViolation) as caught:
        check_target_user(wrong, invoice())
    assert expected in str(caught.value)
    assert "invoice.paid-target_user" in failures(run_suite(kit_for(wrong)))


def test_a_set_of_recipients_keeps_the_target_user_contract() -> None:
    team = mapping(InvoicePaid, "invoice.paid", user_id_extractor=lambda e: frozenset({e.payer_id, uuid4()}))
    check_target_user(team, invoice())
    check_fail_open(team, invoice())


@pytest.mark.parametrize(
    ("field_strategy", "expected"),
    [
        (st.just("caf\udce9"), "data['note'] holds text that is not valid UTF-8 (a lone surrogate)"),
        (st.just(2**70), "data['amount_cents'] = 1180591620717411303424 does not fit in a signed 64-bit integer"),
        (st.just(math.inf), "data['amount_cents'] = inf, which JSON cannot represent"),
        (st.just(math.nan), "data['amount_cents'] = nan, which JSON cannot represent"),
    ],
    ids=["lone-surrogate", "int-over-64-bits", "infinity", "nan"],
)
def test_values_json_cannot_carry_fail_json_safety(field_strategy: st.SearchStrategy[object], expected: str) -> None:
    field = "note" if expected.startswith("data['note']") else "amount_cents"
    failed = failures(run_suite(kit_for(PAID, field_strategies={(InvoicePaid, field): field_strategy})))
    assert expected in failed["invoice.paid-json_safety"]


def test_a_payload_that_is_not_json_fails_json_safety() -> None:
    odd = mapping(InvoicePaid, "invoice.paid", user_id_extractor=TO_PAYER, payload_extractor=lambda e: {"x": object()})
    with pytest.raises(ContractViolation, match=r"data\['x'\] holds a object"):
        check_json_safety(odd, invoice())


def test_a_payload_key_the_envelope_overwrites_fails_payload_shape() -> None:
    clash = mapping(
        InvoicePaid, "invoice.paid", user_id_extractor=TO_PAYER, payload_extractor=lambda e: {"event_id": 1}
    )
    with pytest.raises(ContractViolation, match="payload keys \\['event_id'\\] are replaced by the SSE envelope"):
        check_payload_shape(clash, invoice())


def test_an_extractor_that_raises_fails_the_fail_open_contract() -> None:
    def broken(event: InvoicePaid) -> dict[str, object]:
        raise KeyError("amount")

    dropped = mapping(InvoicePaid, "invoice.paid", user_id_extractor=TO_PAYER, payload_extractor=broken)
    with pytest.raises(ContractViolation, match=r"the handler dropped \{'invoice.paid': 1\}"):
        check_fail_open(dropped, invoice())


def test_a_category_outside_the_enum_or_a_reserved_type_fails_the_category_contract() -> None:
    def unchecked(**changes: object) -> DomainToSSEMapping:
        values: dict[str, object] = {
            "domain_event": DomainEvent,
            "sse_event_type": "x.y",
            "category": SSECategory.SYSTEM,
        }
        return DomainToSSEMapping(description="Not in a registry.", **{**values, **changes})  # type: ignore[arg-type]

    check_category(unchecked())
    with pytest.raises(ContractViolation, match="'billing' is not an SSECategory member"):
        check_category(unchecked(category="billing"))
    with pytest.raises(ContractViolation, match="reserved for the stream's signals"):
        check_category(unchecked(sse_event_type="stream.reset"))


async def test_the_checks_run_inside_an_event_loop_too() -> None:
    await check_fail_open_async(PAID, invoice(payer_id=UUID(int=1)))
