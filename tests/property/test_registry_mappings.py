"""Every mapping of Herald's registry kept to its contracts by the contract kit, exactly as a fork would do it.

No per-mapping code: a mapping added to the registry is covered here by the
ids ``<sse event type>-<contract>`` (see docs/contract-kit.md).
"""

from domain.registry import REGISTRY
from herald_contracts import MappingContracts

test_mapping_contracts = MappingContracts(REGISTRY).pytest_suite()
