"""Herald's mapping contract kit: every registry mapping checked from generated events, no per-mapping code.

In a test module of the service (or of a fork)::

    from domain.registry import REGISTRY
    from herald_contracts import MappingContracts

    test_mapping_contracts = MappingContracts(REGISTRY).pytest_suite()

See docs/contract-kit.md for the contracts, the secret deny-list and the strategy hooks.
"""

from herald_contracts.checks import (
    check_category,
    check_fail_open,
    check_fail_open_async,
    check_json_safety,
    check_no_secrets,
    check_payload_shape,
    check_target_user,
    check_wire_round_trip,
)
from herald_contracts.deny_list import DEFAULT_SECRET_NAMES, secret_match
from herald_contracts.errors import ContractViolation, StrategyError
from herald_contracts.publishers import FailingPublisher, RecordingPublisher
from herald_contracts.sse import parse_sse
from herald_contracts.strategies import DEFAULT_TYPE_STRATEGIES, EventStrategies
from herald_contracts.suite import CONTRACTS, MappingContracts

__all__ = [
    "CONTRACTS",
    "DEFAULT_SECRET_NAMES",
    "DEFAULT_TYPE_STRATEGIES",
    "ContractViolation",
    "EventStrategies",
    "FailingPublisher",
    "MappingContracts",
    "RecordingPublisher",
    "StrategyError",
    "check_category",
    "check_fail_open",
    "check_fail_open_async",
    "check_json_safety",
    "check_no_secrets",
    "check_payload_shape",
    "check_target_user",
    "check_wire_round_trip",
    "parse_sse",
    "secret_match",
]
