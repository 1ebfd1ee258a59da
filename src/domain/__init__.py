"""Herald's domain: events, the SSE event model, the registry and the ports.

Nothing here performs I/O or imports a framework, so every rule about which
event reaches which user can be read and tested on its own.
"""
