"""What a failed Redis call raises, named once for every adapter.

The difference decides what an adapter does next: an *outage* (Redis
unreachable, or silent past a deadline) is worth retrying as it is, and so is
a cluster that is still *settling* (a failover, a slot on the move); any other
*failure* (a refused command or script) would fail the same way again.
"""

from redis.exceptions import ClusterError, RedisError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: Redis could not be reached, or did not answer in time.
REDIS_OUTAGE: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)
#: A cluster moving slots or electing a primary (``CLUSTERDOWN``, ``TRYAGAIN``, a slot with no owner
#: yet, redirections past the client's limit): refused now, served once it settles.
CLUSTER_SETTLING: tuple[type[Exception], ...] = (ClusterError, TryAgainError, SlotNotCoveredError)
#: Anything a Redis call can fail with: an outage or a refusal.
REDIS_FAILURE: tuple[type[Exception], ...] = (RedisError, SlotNotCoveredError, OSError, TimeoutError)
