"""Redis adapters: pub/sub for live delivery, logs (Redis Streams) for retention and resume.

Words: a *stream* is one client's SSE connection; a *log* is a Redis Stream that
retains an audience's events (one per user, one for broadcasts); a *subscription*
is what the subscriber keeps per stream (its cursor, what it holds while catching up).

Key scheme: see :class:`~infrastructure.brokers.redis.keys.RedisKeys` and
docs/architecture/redis.md. Every name carries a hash tag, so what one publish
touches shares one cluster slot.

A live message is ``<log entry id>\\n<SSE event JSON>``; a log entry has
one field, ``e``, with the same JSON. The JSON comes from the one
:class:`~infrastructure.sse.wire_format.WireFormat`.
"""
