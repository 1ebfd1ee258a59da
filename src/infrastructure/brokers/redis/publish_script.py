"""The publish script: what one call to Redis does with the outgoing messages of one slot, exactly once.

XADD and SPUBLISH run in one atomic step: the log entry id is the live
message's id, so replayed and live events agree on identity and order. Each
log numbers its own entries (Redis time in milliseconds, then a sequence), so
no key is written by every publish, and every key and shard channel a call
touches shares one hash tag on a cluster (a single Redis takes a whole batch
in one call, whatever the tags).

An attempt whose answer was lost (a timeout, a dropped connection) may have
run, may run later (its bytes can still sit unread in Redis's socket), or may
never run. Its retry must neither repeat it nor be repeated by it, so:

- every attempt has a token, and each of its calls first looks for its
  **fence** (a key named after the token, in the call's slot): a fenced
  attempt was taken over by a later one and does nothing;
- a retry fences every earlier attempt of its messages, then skips each
  message whose exact payload its log already holds since the first of
  those attempts (a minute earlier, for clock skew between this host and Redis).

Fences are written only by retries, so the cost on the usual path is one
``EXISTS`` per call. A fenced call answers -1 (wrote nothing, and someone
else now owns these messages): a caller that hears it must not count them as sent.
"""

import secrets
from collections.abc import Sequence

import attrs

from infrastructure.brokers.redis.keys import RedisKeys

#: KEYS: this attempt's fence, the log of each message, the fences of earlier attempts (one slot).
#: ARGV: retention, log TTL, since (ms; '0' on a first attempt), message count, fence TTL (ms),
#: then each message's shard channel and payload.
PUBLISH_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local retention = tonumber(ARGV[1])
local since = ARGV[3]
local n = tonumber(ARGV[4])
for j = n + 2, #KEYS do
  redis.call('SET', KEYS[j], '1', 'PX', ARGV[5])
end
local held = {}
local written = 0
for i = 1, n do
  local log, channel, payload = KEYS[i + 1], ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  local seen = false
  if since ~= '0' and retention > 0 then
    local payloads = held[log]
    if payloads == nil then
      payloads = {}
      for _, entry in ipairs(redis.call('XRANGE', log, since, '+')) do
        payloads[entry[2][2]] = true
      end
      held[log] = payloads
    end
    seen = payloads[payload] == true
  end
  if not seen then
    local id = ''
    if retention > 0 then
      id = redis.call('XADD', log, 'MAXLEN', '~', retention, '*', 'e', payload)
      redis.call('EXPIRE', log, ARGV[2])
    end
    redis.call('SPUBLISH', channel, id .. '\\n' .. payload)
    written = written + 1
  end
end
return written
"""

#: How far before a first attempt (by this host's clock) a retry looks for what
#: it may already have written: room for the clocks of this host and Redis to differ.
CLOCK_SKEW_MS = 60_000
#: How long a fence stands: longer than Redis could in practice hold an abandoned attempt unread.
FENCE_TTL_MS = 3_600_000


class AttemptFencedError(Exception):
    """Redis refused this attempt: a later one (a retry, or another process's relay) took its messages over."""


def new_attempt() -> str:
    """A token for one attempt (one call, or one pipeline of calls, with the same messages)."""
    return secrets.token_hex(8)


@attrs.frozen
class OutgoingMessage:
    """One event for one log and channel, with what its earlier attempts left behind."""

    tag: str
    """Messages sharing it go to Redis in one call: on a cluster, the hash tag of the log and channel."""
    log: str
    channel: bytes
    payload: bytes
    queued_at: float
    event_type: str
    tried_at_ms: int = 0
    """Wall-clock time of the first attempt that failed (0: never tried)."""
    attempts: tuple[str, ...] = ()
    """Tokens of the attempts that failed; a retry fences them."""

    def tried(self, attempt: str, now_ms: int) -> "OutgoingMessage":
        """This message after ``attempt`` failed at ``now_ms``."""
        return attrs.evolve(self, tried_at_ms=self.tried_at_ms or now_ms, attempts=(*self.attempts, attempt))


def script_arguments(
    keys: RedisKeys, messages: Sequence[OutgoingMessage], attempt: str, *, retention: int, ttl_seconds: int
) -> tuple[list[str], list[str | bytes | int]]:
    """KEYS and ARGV of one script call sending ``messages`` (all with one tag) as ``attempt``."""
    tried = [message.tried_at_ms for message in messages if message.tried_at_ms]
    since = max(0, min(tried) - CLOCK_SKEW_MS) if tried else 0
    earlier = sorted({token for message in messages for token in message.attempts})
    tag = messages[0].tag
    call_keys = [keys.attempt_fence(attempt, tag)]
    call_keys += [message.log for message in messages]
    call_keys += [keys.attempt_fence(token, tag) for token in earlier]
    args: list[str | bytes | int] = [retention, ttl_seconds, str(since), len(messages), FENCE_TTL_MS]
    for message in messages:
        args.append(message.channel)
        args.append(message.payload)
    return call_keys, args
