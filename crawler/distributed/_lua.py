"""The Lua scripts of the job's queue and ledger (atomic on the Redis server).

Key names that vary per host or per URL are built inside the scripts from a prefix in ARGV,
so the scripts assume one Redis (not a Redis Cluster). The round robin over hosts counts pops
(``JobKeys.tick``), not time: no clock is compared between machines.
"""

from __future__ import annotations

__all__ = [
    "ADMIT",
    "ADMIT_PUSH",
    "BEAT",
    "CLAIM",
    "DECIDED",
    "HOST_DELAY",
    "NOW",
    "POP",
    "PUSH",
    "REQUEUE",
    "SYNC",
]

NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

#: A host's delay in force (seconds): its Crawl-delay, or a back-off while it lasts.
HOST_DELAY = """
local function host_delay(key, now)
  local v = redis.call('HMGET', key, 'delay', 'boff', 'boff_until')
  local d = tonumber(v[1]) or 0
  if (tonumber(v[3]) or 0) > now then d = math.max(d, tonumber(v[2]) or 0) end
  return d
end
"""

#: Whether a host has no turn free now (crawler/distributed/politeness.py's rule): all its
#: turns in use, or its delay since the latest answer not over yet.
HOST_BUSY = """
local function host_busy(pol, sem, now, per_host)
  redis.call('ZREMRANGEBYSCORE', sem, '-inf', now)
  local d = host_delay(pol, now)
  local limit = per_host
  if d > 0 then limit = 1 end
  if redis.call('ZCARD', sem) >= limit then return true end
  if d > 0 then
    local done = tonumber(redis.call('HGET', pol, 'done') or '0')
    if done > 0 and done + math.ceil(d * 1000) + 1 > now then return true end
  end
  return false
end
"""

DIGEST = """
local function digest(url) return string.sub(redis.sha1hex(url), 1, 20) end
"""

#: KEYS workers; ARGV worker id, ttl_ms. Renews the worker's heartbeat (its expiry on Redis's
#: clock) and returns {1 when its previous expiry was still ahead (no reaper can have taken it
#: for dead since), the ids of the workers whose heartbeat has expired}.
BEAT = (
    NOW
    + """
local old = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0')
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local alive = 0
if old > now then alive = 1 end
return {alive, redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)}
"""
)

#: KEYS hosts, queued, inflight, own lease, tick; ARGV host-queue prefix, host, url, item.
#: The request joins its host's queue; a lease this worker held on the URL (a retry, a
#: redirect's next hop, a claimed link) ends: the queue holds it now.
PUSH = """
redis.call('RPUSH', ARGV[1] .. ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[1], 'NX', tonumber(redis.call('GET', KEYS[5]) or '0'), ARGV[2])
redis.call('INCR', KEYS[2])
if redis.call('HDEL', KEYS[4], ARGV[3]) == 1 then redis.call('DECR', KEYS[3]) end
return 1
"""

#: KEYS hosts, queued, inflight, own lease, tick, done; ARGV host-queue prefix, count,
#: politeness prefix, turns prefix, per_host. Pops up to ``count`` requests, each the head of
#: the host popped longest ago (round robin over hosts: its score is the pop counter's value
#: at its latest pop) among the hosts with a turn free now (a busy host goes to the back: a
#: worker does not take work it would only wait on), and leases them to this worker. A
#: request whose URL is in the done-set meanwhile (a lease given back while its worker was
#: only slow) is dropped.
POP = (
    NOW
    + HOST_DELAY
    + HOST_BUSY
    + DIGEST
    + """
local out = {}
local want = tonumber(ARGV[2])
local per_host = tonumber(ARGV[5])
local hosts = redis.call('ZCARD', KEYS[1])
local skipped = 0
for _ = 1, 64 do
  if #out >= want or skipped >= hosts then break end
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #head == 0 then break end
  local host = head[1]
  local list = ARGV[1] .. host
  if host_busy(ARGV[3] .. host, ARGV[4] .. host, now, per_host) then
    redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[5]), host)
    skipped = skipped + 1
  else
    local item = redis.call('LPOP', list)
    if redis.call('LLEN', list) == 0 then
      redis.call('ZREM', KEYS[1], host)
      hosts = hosts - 1
    else
      redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[5]), host)
    end
    if item then
      redis.call('DECR', KEYS[2])
      local sep = string.find(item, '\\0', 1, true)
      local url = string.sub(item, 1, sep - 1)
      if redis.call('SISMEMBER', KEYS[6], digest(url)) == 0 then
        if redis.call('HSET', KEYS[4], url, 'R' .. string.sub(item, sep + 1)) == 1 then
          redis.call('INCR', KEYS[3])
        end
        out[#out + 1] = item
      end
    end
  end
end
return out
"""
)

#: KEYS seen, claimed, inflight, own lease, overflow; ARGV max_pages, then url, depth pairs.
#: Returns the URLs this worker is to request (new to the job and within the budget); each
#: is leased as a claim until its request is queued. A new URL over the budget is kept in
#: the overflow list (a later run with a larger ``max_pages`` requests it), not in seen.
CLAIM = (
    DIGEST
    + """
local out = {}
local limit = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local url = ARGV[i]
  local d = digest(url)
  if redis.call('SADD', KEYS[1], d) == 1 then
    if redis.call('INCR', KEYS[2]) <= limit then
      if redis.call('HSET', KEYS[4], url, 'C' .. ARGV[i + 1]) == 1 then
        redis.call('INCR', KEYS[3])
      end
      out[#out + 1] = url
    else
      redis.call('DECR', KEYS[2])
      redis.call('SREM', KEYS[1], d)
      redis.call('RPUSH', KEYS[5], ARGV[i + 1] .. '\\0' .. url)
    end
  end
end
return out
"""
)

#: KEYS seen, claimed, inflight, own lease, overflow; ARGV max_pages, url, depth. The
#: scheduler's filter: 1 when the request may be queued (a link this worker claimed, or one new
#: to the job and within the budget: claimed now), 0 when the job has it already (or it is
#: over the budget: kept in the overflow list).
ADMIT = (
    DIGEST
    + """
local url = ARGV[2]
local held = redis.call('HGET', KEYS[4], url)
if held and string.sub(held, 1, 1) == 'C' then return 1 end  -- claimed here, not queued yet
local d = digest(url)
if redis.call('SADD', KEYS[1], d) == 0 then return 0 end
if redis.call('INCR', KEYS[2]) > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[2])
  redis.call('SREM', KEYS[1], d)
  redis.call('RPUSH', KEYS[5], ARGV[3] .. '\\0' .. url)
  return 0
end
if redis.call('HSET', KEYS[4], url, 'C' .. ARGV[3]) == 1 then redis.call('INCR', KEYS[3]) end
return 1
"""
)

#: KEYS seen, claimed, inflight, own lease, overflow, hosts, queued, tick; ARGV max_pages, url,
#: depth, host-queue prefix, host, item. ADMIT then PUSH in one round trip: 1 when queued.
ADMIT_PUSH = (
    DIGEST
    + """
local url = ARGV[2]
local held = redis.call('HGET', KEYS[4], url)
if not (held and string.sub(held, 1, 1) == 'C') then
  local d = digest(url)
  if redis.call('SADD', KEYS[1], d) == 0 then return 0 end
  if redis.call('INCR', KEYS[2]) > tonumber(ARGV[1]) then
    redis.call('DECR', KEYS[2])
    redis.call('SREM', KEYS[1], d)
    redis.call('RPUSH', KEYS[5], ARGV[3] .. '\\0' .. url)
    return 0
  end
elseif redis.call('HDEL', KEYS[4], url) == 1 then
  redis.call('DECR', KEYS[3])
end
redis.call('RPUSH', ARGV[4] .. ARGV[5], ARGV[6])
redis.call('ZADD', KEYS[6], 'NX', tonumber(redis.call('GET', KEYS[8]) or '0'), ARGV[5])
redis.call('INCR', KEYS[7])
return 1
"""
)

#: KEYS inflight, own lease; ARGV urls. Their decisions are written, not yet published: each
#: lease is marked "D" (a reaper still gives it back) and leaves the job's in-flight count, so
#: no other worker waits for it.
DECIDED = """
for i = 1, #ARGV do
  local v = redis.call('HGET', KEYS[2], ARGV[i])
  if v and string.sub(v, 1, 1) ~= 'D' then
    redis.call('HSET', KEYS[2], ARGV[i], 'D' .. v)
    redis.call('DECR', KEYS[1])
  end
end
return #ARGV
"""

#: KEYS inflight, own lease, done; ARGV urls. Their decisions are about to be published: each
#: leaves this worker's leases (and the in-flight count, unless marked "D") for the done-set.
SYNC = (
    DIGEST
    + """
for i = 1, #ARGV do
  local v = redis.call('HGET', KEYS[2], ARGV[i])
  if v then
    redis.call('HDEL', KEYS[2], ARGV[i])
    if string.sub(v, 1, 1) ~= 'D' then redis.call('DECR', KEYS[1]) end
  end
  redis.call('SADD', KEYS[3], digest(ARGV[i]))
end
return #ARGV
"""
)

#: KEYS hosts, queued, inflight, lease, done, workers, tick, the reaper's own lease; ARGV
#: host-queue prefix, worker, then host, url, item triples. A dead worker's leases return to
#: the queue (unless decided and published meanwhile); a claimed link without an item (one that
#: cannot be requested) becomes the reaper's claim instead, to be decided by it (returned as
#: url, depth pairs). When the dead worker holds nothing more, it leaves the job's worker list.
#: Returns {requests queued again, {url, depth, ...}}.
REQUEUE = (
    DIGEST
    + """
local back = 0
local adopted = {}
local tick = tonumber(redis.call('GET', KEYS[7]) or '0')
for i = 3, #ARGV, 3 do
  local host, url, item = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local v = redis.call('HGET', KEYS[4], url)
  if v then
    redis.call('HDEL', KEYS[4], url)
    if string.sub(v, 1, 1) ~= 'D' then redis.call('DECR', KEYS[3]) end
    if redis.call('SISMEMBER', KEYS[5], digest(url)) == 0 then
      if item ~= '' then
        redis.call('RPUSH', ARGV[1] .. host, item)
        redis.call('ZADD', KEYS[1], 'NX', tick, host)
        redis.call('INCR', KEYS[2])
        back = back + 1
      else
        if string.sub(v, 1, 1) == 'D' then v = string.sub(v, 2) end
        if string.sub(v, 1, 1) == 'C' then
          if redis.call('HSET', KEYS[8], url, v) == 1 then redis.call('INCR', KEYS[3]) end
          adopted[#adopted + 1] = url
          adopted[#adopted + 1] = string.sub(v, 2)
        end
      end
    end
  end
end
if redis.call('HLEN', KEYS[4]) == 0 then redis.call('ZREM', KEYS[6], ARGV[2]) end
return {back, adopted}
"""
)
