"""Persistence of the sample domain with SQLAlchemy (async): tables, repositories, unit of work, outbox."""
