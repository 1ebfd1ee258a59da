"""The registry that maps domain events to SSE events."""

from domain.registry.entries import REGISTRY
from domain.registry.mapping import DomainToSSEMapping, PayloadExtractor
from domain.registry.registry import EventRegistry, RegistryError, RegistryStatistics

__all__ = [
    "REGISTRY",
    "DomainToSSEMapping",
    "EventRegistry",
    "PayloadExtractor",
    "RegistryError",
    "RegistryStatistics",
]
