"""What a failed Redis call raises, named once for every adapter.

Two sets, because the difference decides what an adapter does next: an
*outage* (Redis unreachable, or silent past a deadline) is worth retrying as
it is; any other *failure* (a refused command or script) would fail the same
way again.
"""

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: Redis could not be reached, or did not answer in time.
REDIS_OUTAGE: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)
#: Anything a Redis call can fail with: an outage or a refusal.
REDIS_FAILURE: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)
