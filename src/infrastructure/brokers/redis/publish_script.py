"""The publish script: what one call to Redis does with a batch of outgoing messages, exactly once.

XADD and PUBLISH run in one atomic step: the log position is the live
message's id, so replayed and live events agree on identity and order.
Positions come from one clock key shared by every log, so positions in a
user's log and in the broadcast log interleave exactly as the events
were published; a replay merges them in that order.

An attempt whose answer was lost (a timeout, a dropped connection) may have
run, may run later (its bytes can still sit unread in Redis's socket), or may
never run. Its retry must neither repeat it nor be repeated by it, so:

- every attempt has a token, and first looks for its **fence** (a key named
  after the token): a fenced attempt was taken over by a later one and does
  nothing;
- a retry fences every earlier attempt of its messages, then skips each
  message whose exact payload its log already holds since the first of
  those attempts (a minute earlier, for clock skew between this host and Redis).

Fences are written only by retries, so the cost on the usual path is one
``EXISTS`` per call.
"""

import secrets
from collections.abc import Sequence

import attrs

from infrastructure.brokers.redis.keys import RedisKeys

#: KEYS: the clock, this attempt's fence, the log of each message, the fences of earlier attempts.
#: ARGV: retention, log TTL, since (ms; '0' on a first attempt), message count, fence TTL (ms),
#: then each message's channel and payload.
PUBLISH_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local retention = tonumber(ARGV[1])
local since = ARGV[3]
local n = tonumber(ARGV[4])
for j = n + 3, #KEYS do
  redis.call('SET', KEYS[j], '1', 'PX', ARGV[5])
end
local held = {}
local todo = {}
for i = 1, n do
  local log, payload = KEYS[i + 2], ARGV[5 + 2 * i]
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
  if not seen then todo[#todo + 1] = i end
end
local ms, seq = 0, -1
if retention > 0 then
  local t = redis.call('TIME')
  ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local last = redis.call('GET', KEYS[1])
  if last then
    local last_ms, last_seq = string.match(last, '^(%d+)-(%d+)$')
    last_ms = tonumber(last_ms)
    if last_ms >= ms then
      ms = last_ms
      seq = tonumber(last_seq)
    end
  end
end
if retention > 0 and #todo > 0 then
  -- Advanced before anything is written: a failure part-way never lets ids be reused.
  redis.call('SET', KEYS[1], string.format('%.0f-%.0f', ms, seq + #todo))
end
for _, i in ipairs(todo) do
  local id = ''
  local payload = ARGV[5 + 2 * i]
  if retention > 0 then
    seq = seq + 1
    id = string.format('%.0f-%.0f', ms, seq)
    redis.call('XADD', KEYS[i + 2], 'MAXLEN', '~', retention, id, 'e', payload)
    redis.call('EXPIRE', KEYS[i + 2], ARGV[2])
  end
  redis.call('PUBLISH', ARGV[4 + 2 * i], id .. '\\n' .. payload)
end
return #todo
"""

#: How far before a first attempt (by this host's clock) a retry looks for what
#: it may already have written: room for the clocks of this host and Redis to differ.
CLOCK_SKEW_MS = 60_000
#: How long a fence stands: longer than Redis could in practice hold an abandoned attempt unread.
FENCE_TTL_MS = 3_600_000


def new_attempt() -> str:
    """A token for one attempt (one call, or one pipeline of calls, with the same messages)."""
    return secrets.token_hex(8)


@attrs.frozen
class OutgoingMessage:
    """One event for one log and channel, with what its earlier attempts left behind."""

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
    """KEYS and ARGV of one script call sending ``messages`` as ``attempt``."""
    tried = [message.tried_at_ms for message in messages if message.tried_at_ms]
    since = max(0, min(tried) - CLOCK_SKEW_MS) if tried else 0
    earlier = sorted({token for message in messages for token in message.attempts})
    call_keys = [keys.clock, keys.attempt_fence(attempt)]
    call_keys += [message.log for message in messages]
    call_keys += [keys.attempt_fence(token) for token in earlier]
    args: list[str | bytes | int] = [retention, ttl_seconds, str(since), len(messages), FENCE_TTL_MS]
    for message in messages:
        args.append(message.channel)
        args.append(message.payload)
    return call_keys, args
