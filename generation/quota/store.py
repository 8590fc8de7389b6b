"""The pacer's state in Redis: one hash and one sorted set per key, changed only by Lua.

Each script reads and writes one key's state atomically, so any number of
workers on any number of hosts book slots from one schedule. The rules are
those of `pacer.MemoryStore`, line for line; tests run both stores through
the same cases.

Why not the `limits` library: its moving and fixed windows count calls with a
limit known in advance; this pacer learns the limit and the window from the
provider's headers, books future slots, and holds a probe lease and a pause,
which its storage API has no place for.
"""
import redis

_FMT = "local function s(x) return string.format('%.17g', x) end\n"

_ACQUIRE = _FMT + """
local h, log = KEYS[1], KEYS[2]
local now, deadline = tonumber(ARGV[1]), tonumber(ARGV[2])
local rpm, lease, margin, ticket, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7]
local f = redis.call('HMGET', h, 'limit', 'period', 'open', 'paused', 'probe', 'hrem', 'hreset', 'hsent')
local limit, period = tonumber(f[1]), tonumber(f[2]) or 60
if rpm > 0 then limit, period = rpm, 60 end
local paused = tonumber(f[4]) or 0
local t = math.max(now, paused)
local probe = false
if not limit and f[3] ~= '1' then
  local lease_end = tonumber(f[5]) or 0
  if lease_end > now then return {'wait', s(lease_end - now), 'probe'} end
  probe = true
elseif limit then
  redis.call('ZREMRANGEBYSCORE', log, '-inf', '(' .. s(now - period - margin))
  local n = redis.call('ZCARD', log)
  if n >= limit then
    local kth = redis.call('ZRANGE', log, n - limit, n - limit, 'WITHSCORES')
    t = math.max(t, tonumber(kth[2]) + period + margin)
  end
  if n > 0 then
    local last = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
    t = math.max(t, tonumber(last[2]))
  end
  local hrem, hreset, hsent = tonumber(f[6]), tonumber(f[7]), tonumber(f[8])
  if hrem and t < hreset then
    local used = redis.call('ZCOUNT', log, s(hsent), '(' .. s(hreset)) - 1
    if used < 0 then used = 0 end
    if hrem - used <= 0 then t = math.max(t, hreset + margin) end
  end
end
if t > deadline then
  local reason = 'quota'
  if t <= paused then reason = 'paused' end
  return {'wait', s(t - now), reason}
end
if probe then redis.call('HSET', h, 'probe', s(t + lease)) end
if probe or limit then redis.call('ZADD', log, s(t), ticket) end
redis.call('EXPIRE', h, ttl)
redis.call('EXPIRE', log, ttl)
if probe then return {'slot', s(t), 'probe'} end
return {'slot', s(t), ''}
"""

_RELEASE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'probe', '0') end
return 1
"""

_OBSERVE = _FMT + """
local h = KEYS[1]
local limit, remaining, reset = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local booked_at, sent_at, tol, ttl = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
redis.call('HSET', h, 'probe', '0')
redis.call('ZADD', KEYS[2], 'XX', 'GT', s(sent_at), ARGV[9])
if not limit then
  if ARGV[4] == '1' and not redis.call('HGET', h, 'limit') then redis.call('HSET', h, 'open', '1') end
else
  redis.call('HSET', h, 'limit', limit, 'open', '0')
  if reset then
    local period = tonumber(redis.call('HGET', h, 'period')) or 0
    if reset > period then redis.call('HSET', h, 'period', s(reset)) end
    if remaining then
      local new_reset = sent_at + reset
      local f = redis.call('HMGET', h, 'hrem', 'hreset')
      local hrem, hreset = tonumber(f[1]), tonumber(f[2])
      if not hreset or new_reset > hreset + tol then
        redis.call('HSET', h, 'hrem', remaining, 'hreset', s(new_reset), 'hsent', booked_at)
      elseif new_reset >= hreset - tol and remaining < hrem then
        redis.call('HSET', h, 'hrem', remaining, 'hsent', booked_at)
      end
    end
  end
end
redis.call('EXPIRE', h, ttl)
return 1
"""

_PAUSE = """
local h = KEYS[1]
local paused = tonumber(redis.call('HGET', h, 'paused')) or 0
if tonumber(ARGV[1]) > paused then redis.call('HSET', h, 'paused', ARGV[1]) end
redis.call('HSET', h, 'last429', ARGV[2])
if not redis.call('HGET', h, 'limit') then redis.call('HSET', h, 'open', '0') end
redis.call('EXPIRE', h, ARGV[3])
return 1
"""

TTL = 2 * 86400  # an idle model's state goes after two days; it is learned again on the next call


def _num(value):
    return None if value is None else float(value)


class RedisStore:
    def __init__(self, url: str, *, prefix: str) -> None:
        # Short timeouts: a Redis that does not answer must cost a request little before the fallback.
        self.client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1.0)
        self.prefix = prefix
        self._acquire = self.client.register_script(_ACQUIRE)
        self._release = self.client.register_script(_RELEASE)
        self._observe = self.client.register_script(_OBSERVE)
        self._pause = self.client.register_script(_PAUSE)

    def _keys(self, key: str) -> list[str]:
        # The hash tag keeps both keys of one model in one Redis Cluster slot.
        base = f"{self.prefix}{{{key}}}"
        return [base, f"{base}:log"]

    def acquire(self, key, *, now, deadline, rpm, lease, margin, ticket):
        kind, at, reason = self._acquire(keys=self._keys(key),
                                         args=[repr(now), repr(deadline), rpm, repr(lease), repr(margin), ticket, TTL])
        return kind.decode(), float(at), reason.decode()

    def release(self, key, *, ticket, probe, now):
        self._release(keys=self._keys(key), args=[ticket, repr(now), "1" if probe else "0"])

    def observe(self, key, *, ticket, limit, remaining, reset, answered, booked_at, sent_at, tolerance):
        self._observe(keys=self._keys(key), args=[
            "" if limit is None else limit, "" if remaining is None else remaining, "" if reset is None else repr(reset),
            "1" if answered else "0", repr(booked_at), repr(sent_at), repr(tolerance), TTL, ticket])

    def pause(self, key, *, until, now):
        self._pause(keys=self._keys(key)[:1], args=[repr(until), repr(now), TTL])

    def state(self, key, *, now):
        h, log = self._keys(key)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hgetall(h)
            pipe.zrange(log, 0, -1, withscores=True)
            raw, booked = pipe.execute()
        raw = {k.decode(): v.decode() for k, v in raw.items()}
        limit = raw.get("limit")
        hrem = raw.get("hrem")
        return {"limit": int(limit) if limit else None, "period": _num(raw.get("period")),
                "paused": _num(raw.get("paused")), "probe": _num(raw.get("probe")),
                "hrem": int(hrem) if hrem else None, "hreset": _num(raw.get("hreset")),
                "hsent": _num(raw.get("hsent")), "last429": _num(raw.get("last429")),
                "log": sorted(score for _, score in booked)}
