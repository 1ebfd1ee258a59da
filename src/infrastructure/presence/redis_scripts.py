"""The Lua scripts of presence on Redis: each one call, in one slot (a group's partition), atomic.

Per partition (hash tag ``P``), under ``<prefix>:{P}:presence:``:

- ``leases``: a sorted set, process → when its lease runs out (Redis time, ms);
- ``held:<process>``: the groups the process holds anyone in;
- per group ``G``: ``G:users`` (the members, a sorted set scored 0, so pages go in
  user id order), ``G:info`` (member → ``streams:since:holders``, summed over the
  processes), ``G:by:<process>`` (member → that process's streams) and
  ``G:version`` (the group's presence version: one more at each join or leave,
  and never below Redis time in microseconds, so it keeps growing after the key
  expired or Redis lost it).

A member joins when its first holder appears and leaves when its last one
goes: ``holders`` counts the processes holding it. Time is always Redis's
(``TIME``), so the clocks of the hosts do not matter.
"""

_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

_INFO = """
local function parse(info)
  local total, since, holders = string.match(info, '^(%-?%d+):(%d+):(%d+)$')
  return tonumber(total), since, tonumber(holders)
end
local function bump(key)
  local version = math.max((tonumber(redis.call('GET', key)) or 0) + 1, now * 1000)
  local text = string.format('%.0f', version)
  redis.call('SET', key, text, 'PX', 86400000)
  return text
end
"""

#: KEYS: leases, held:<process>, G:users, G:info, G:by:<process>, G:version.
#: ARGV: process, lease (ms), the group, then pairs of user and streams (-1: gone).
#: Returns {1 if the process had a lease here, {joined user, version, ...}, {left user, version, ...}}.
APPLY = (
    _NOW
    + _INFO
    + """
local had = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local joined, left = {}, {}
for i = 4, #ARGV, 2 do
  local user, streams = ARGV[i], tonumber(ARGV[i + 1])
  local mine = redis.call('HGET', KEYS[5], user)
  local info = redis.call('HGET', KEYS[4], user)
  local total, since, holders = 0, tostring(now), 0
  if info then total, since, holders = parse(info) end
  if mine then
    total, holders = total - tonumber(mine), holders - 1
  end
  if streams >= 0 then
    redis.call('HSET', KEYS[5], user, streams)
    total, holders = total + streams, holders + 1
  elseif mine then
    redis.call('HDEL', KEYS[5], user)
  end
  if holders > 0 then
    if not info then
      redis.call('ZADD', KEYS[3], 0, user)
      joined[#joined + 1] = user
      joined[#joined + 1] = bump(KEYS[6])
    end
    redis.call('HSET', KEYS[4], user, total .. ':' .. since .. ':' .. holders)
  elseif info then
    redis.call('HDEL', KEYS[4], user)
    redis.call('ZREM', KEYS[3], user)
    left[#left + 1] = user
    left[#left + 1] = bump(KEYS[6])
  end
end
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('SADD', KEYS[2], ARGV[3])
else
  redis.call('SREM', KEYS[2], ARGV[3])
end
return {had and 1 or 0, joined, left}
"""
)

#: KEYS: leases. ARGV: process, lease (ms). Returns 1 if the process had a lease here (it is renewed either way).
RENEW = (
    _NOW
    + """
local had = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return had and 1 or 0
"""
)

#: KEYS: leases. ARGV: process, ms from now. The lease of a stopping process runs out then (if it still has one).
DEPART = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
"""
)

#: KEYS: leases. ARGV: the partition's key prefix (``<prefix>:{P}:presence:``), most processes per call.
#: Ends every process whose lease ran out: takes out what it held. Returns {group, user, version, ...} of who left.
#: The group keys are named here, in the leases' slot: they share its hash tag.
REAP = (
    _NOW
    + _INFO
    + """
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local left = {}
for _, process in ipairs(dead) do
  local held = ARGV[1] .. 'held:' .. process
  for _, group in ipairs(redis.call('SMEMBERS', held)) do
    local base = ARGV[1] .. group .. ':'
    local by = base .. 'by:' .. process
    local entries = redis.call('HGETALL', by)
    for j = 1, #entries, 2 do
      local user = entries[j]
      local info = redis.call('HGET', base .. 'info', user)
      if info then
        local total, since, holders = parse(info)
        total, holders = total - tonumber(entries[j + 1]), holders - 1
        if holders > 0 then
          redis.call('HSET', base .. 'info', user, total .. ':' .. since .. ':' .. holders)
        else
          redis.call('HDEL', base .. 'info', user)
          redis.call('ZREM', base .. 'users', user)
          left[#left + 1] = group
          left[#left + 1] = user
          left[#left + 1] = bump(base .. 'version')
        end
      end
    end
    redis.call('DEL', by)
  end
  redis.call('DEL', held)
  redis.call('ZREM', KEYS[1], process)
end
return left
"""
)

#: KEYS: G:users, G:info, G:version. ARGV: after ('' from the first), limit.
#: Returns {count, version, user, info, user, info, ...} with up to limit + 1 members (one more: a page follows).
#: A group without a version yet (or any more) reads as the floor of its next one.
PAGE = (
    _NOW
    + """
local count = redis.call('ZCARD', KEYS[1])
local version = redis.call('GET', KEYS[3]) or string.format('%.0f', now * 1000)
local start = '-'
if ARGV[1] ~= '' then start = '(' .. ARGV[1] end
local users = redis.call('ZRANGEBYLEX', KEYS[1], start, '+', 'LIMIT', 0, tonumber(ARGV[2]) + 1)
local out = {count, version}
for _, user in ipairs(users) do
  out[#out + 1] = user
  out[#out + 1] = redis.call('HGET', KEYS[2], user) or '0:0:0'
end
return out
"""
)
