"""The garbage collector's schedule for a process holding thousands of long-lived streams.

Every open stream keeps a few hundred GC-tracked objects alive (its request,
task, coroutine frames, inbox). CPython's default schedule collects the
youngest generation every 700 net allocations; under load, objects that live
for one event (futures, frames) are caught alive and promoted, and once those
promotions reach a quarter of everything long-lived, a full collection walks
every object of every stream. With many streams open, those pauses became the
p99 latency of every stream (measured before and after: docs/performance.md's
git history).

With a young generation of 50,000 objects, short-lived objects are almost
always freed by reference counting before a collection sees them, so little
is promoted and full collections become rare, while a young collection of
that size stays short. Objects alive at start-up (modules, the app, the container)
are frozen: no collection ever walks them again.
"""

import gc

YOUNG = 50_000
MIDDLE = 50
OLD = 100


def tune_for_long_lived_streams() -> None:
    """Apply the schedule; call once, after start-up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
