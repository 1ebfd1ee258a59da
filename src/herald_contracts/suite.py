"""One object that checks every mapping of a registry, and the pytest test that runs it."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.events import DomainEvent
from domain.registry import DomainToSSEMapping, EventRegistry
from domain.sse.groups import GROUP_ID_PATTERN
from herald_contracts import checks
from herald_contracts.deny_list import DEFAULT_SECRET_NAMES
from herald_contracts.strategies import EventStrategies, FieldKey
from infrastructure.sse.wire_format import WireFormat

E = TypeVar("E", bound=DomainEvent)

#: Contracts checked once per mapping, without generated events.
STATIC_CONTRACTS = ("category",)
#: Contracts checked against generated events of the mapping's class.
EVENT_CONTRACTS = ("target_user", "payload_shape", "json_safety", "wire_round_trip", "fail_open", "no_secrets")
CONTRACTS = STATIC_CONTRACTS + EVENT_CONTRACTS


class MappingContracts:
    """The contract kit for one registry: generated events and every check, for every mapping.

    Args:
        registry: the registry whose mappings are checked.
        strategies: strategies by type, used wherever that type appears in an
            event (``{Money: st.builds(Money, cents=st.integers(0, 10**6))}``).
        field_strategies: strategies for one field, by ``(attrs class, field name)``;
            they win over ``strategies``.
        secret_names: the deny-list of secret-looking key names.
        allowed_keys: payload keys never reported as secrets, however they look.
        wire_format: the wire format the service runs with (a fork's own hooks).
        hypothesis_settings: settings of the generated test; by default the
            current hypothesis profile without a deadline.
    """

    def __init__(
        self,
        registry: EventRegistry,
        *,
        strategies: Mapping[Any, st.SearchStrategy[Any]] | None = None,
        field_strategies: Mapping[FieldKey, st.SearchStrategy[Any]] | None = None,
        secret_names: Iterable[str] = DEFAULT_SECRET_NAMES,
        allowed_keys: Iterable[str] = (),
        wire_format: WireFormat | None = None,
        hypothesis_settings: settings | None = None,
    ) -> None:
        self.registry = registry
        self.secret_names = frozenset(secret_names)
        self.allowed_keys = frozenset(allowed_keys)
        self.wire_format = wire_format or WireFormat()
        self.settings = hypothesis_settings or settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
        # A group's id field that is text gets valid group ids, unless the fork says otherwise.
        group_ids = {key: st.from_regex(GROUP_ID_PATTERN, fullmatch=True) for key in _text_group_fields(registry)}
        self._strategies = EventStrategies(strategies, {**group_ids, **(field_strategies or {})})

    def events_of(self, cls: type[E]) -> st.SearchStrategy[E]:
        """Instances of ``cls`` from its field types; raises ``StrategyError`` naming a field it cannot build."""
        return self._strategies.events_of(cls)

    def check(self, contract: str, mapping: DomainToSSEMapping, event: DomainEvent | None = None) -> None:
        """Check one contract (a name from ``CONTRACTS``) of ``mapping``; event contracts need ``event``."""
        if contract in STATIC_CONTRACTS:
            checks.check_category(mapping)
            return
        if event is None:
            msg = f"the {contract!r} contract is checked against an event"
            raise TypeError(msg)
        self._event_checks()[contract](mapping, event)

    def check_event(self, mapping: DomainToSSEMapping, event: DomainEvent) -> None:
        """Check every contract of ``mapping`` against one event (an example-based test's one-liner)."""
        for contract in CONTRACTS:
            self.check(contract, mapping, event)

    def cases(self) -> list[Any]:
        """One ``pytest.param`` per mapping and contract, with the id ``<sse event type>-<contract>``."""
        return [
            pytest.param(mapping, contract, id=f"{mapping.sse_event_type}-{contract}")
            for mapping in self.registry
            for contract in CONTRACTS
        ]

    def pytest_suite(self) -> Callable[..., None]:
        """A pytest test over every mapping and contract: assign it to a ``test_`` name in a test module."""

        @pytest.mark.parametrize(("mapping", "contract"), self.cases())
        @self.settings
        @given(data=st.data())
        def test_mapping_contract(mapping: DomainToSSEMapping, contract: str, data: st.DataObject) -> None:
            if contract in STATIC_CONTRACTS:
                self.check(contract, mapping)
                return
            event = data.draw(self.events_of(mapping.domain_event), label=mapping.domain_event.__name__)
            self.check(contract, mapping, event)

        suite: Callable[..., None] = test_mapping_contract
        return suite

    def _event_checks(self) -> dict[str, Callable[[DomainToSSEMapping, DomainEvent], None]]:
        wire = self.wire_format
        return {
            "target_user": lambda m, e: checks.check_target_user(m, e, wire_format=wire),
            "payload_shape": lambda m, e: checks.check_payload_shape(m, e, wire_format=wire),
            "json_safety": lambda m, e: checks.check_json_safety(m, e, wire_format=wire),
            "wire_round_trip": lambda m, e: checks.check_wire_round_trip(m, e, wire_format=wire),
            "fail_open": lambda m, e: checks.check_fail_open(m, e, registry=self.registry, wire_format=wire),
            "no_secrets": lambda m, e: checks.check_no_secrets(
                m, e, secret_names=self.secret_names, allowed_keys=self.allowed_keys, wire_format=wire
            ),
        }


def _text_group_fields(registry: EventRegistry) -> list[FieldKey]:
    """The ``str`` fields that name a mapping's group (a UUID field needs no help)."""
    keys = []
    for mapping in registry:
        group = mapping.group_extractor
        if group is None:
            continue
        attribute = attrs.fields_dict(attrs.resolve_types(mapping.domain_event)).get(group.field)
        if attribute is not None and attribute.type is str:
            keys.append((mapping.domain_event, group.field))
    return keys
