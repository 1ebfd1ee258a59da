"""Adapters of delivery diagnostics: deliveries remembered per process (shared through Redis), and where an
event stands in each broker's logs."""
