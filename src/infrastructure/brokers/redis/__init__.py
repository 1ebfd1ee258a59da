"""Redis adapters: pub/sub for live delivery, Streams for retention and resume.

Key scheme (``<prefix>`` is ``HERALD_REDIS_PREFIX``, ``herald`` by default):

=====================================  ==========  =====================================
name                                   kind        holds
=====================================  ==========  =====================================
``<prefix>:stream:user:<user-uuid>``   Stream      the user's last events (``MAXLEN ~``,
                                                   expires after an idle TTL)
``<prefix>:stream:broadcast``          Stream      the last broadcasts
``<prefix>:live:user:<user-uuid>``     channel     the user's events, live
``<prefix>:live:broadcast``            channel     broadcasts, live
``<prefix>:clock``                     string      the last position handed out (orders
                                                   all Streams together)
=====================================  ==========  =====================================

A live message is ``<stream entry id>\\n<SSE event JSON>``; a stream entry has
one field, ``e``, with the same JSON. The JSON comes from the one
:class:`~infrastructure.sse.wire_format.WireFormat`.
"""
