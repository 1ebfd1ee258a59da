"""Herald's benchmark: Herald, a Litestar channels baseline and a raw-ASGI ceiling, measured in one run.

Run it with ``make bench`` (or ``python -m bench --help``); see docs/performance.md.
"""
