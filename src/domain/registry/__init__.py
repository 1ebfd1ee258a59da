"""The registry that maps domain events to SSE events."""

from domain.registry.catalogue import REGISTRY, get_domain_event_to_sse_mapping
from domain.registry.mapping import DomainToSSEMapping, PayloadExtractor
from domain.registry.registry import EventRegistry, RegistryError, RegistryStatistics

__all__ = [
    "REGISTRY",
    "DomainToSSEMapping",
    "EventRegistry",
    "PayloadExtractor",
    "RegistryError",
    "RegistryStatistics",
    "get_domain_event_to_sse_mapping",
]
