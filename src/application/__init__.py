"""Use cases of the sample domain; each raises domain events through the bus."""
