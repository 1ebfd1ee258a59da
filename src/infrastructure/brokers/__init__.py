"""Publisher and subscriber adapters: embedded (in-memory) and Redis."""
