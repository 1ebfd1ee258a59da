"""Redis adapters: pub/sub for live delivery, logs (Redis Streams) for retention and resume.

Words: a *stream* is one client's SSE connection; a *log* is a Redis Stream that
retains an audience's events (one per user, one for broadcasts); a *subscription*
is what the subscriber keeps per stream (its cursor, what it holds while catching up).

Key scheme (``<prefix>`` is ``HERALD_REDIS_PREFIX``, ``herald`` by default):

=====================================  ==========  =====================================
name                                   kind        holds
=====================================  ==========  =====================================
``<prefix>:stream:user:<user-uuid>``   Stream      the user's log: last events (``MAXLEN ~``,
                                                   expires after an idle TTL)
``<prefix>:stream:broadcast``          Stream      the broadcast log: last broadcasts
``<prefix>:live:user:<user-uuid>``     channel     the user's events, live
``<prefix>:live:broadcast``            channel     broadcasts, live
``<prefix>:clock``                     string      the last position handed out (orders
                                                   all logs together)
=====================================  ==========  =====================================

A live message is ``<log entry id>\\n<SSE event JSON>``; a log entry has
one field, ``e``, with the same JSON. The JSON comes from the one
:class:`~infrastructure.sse.wire_format.WireFormat`.
"""
