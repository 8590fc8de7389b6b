"""The pacer's rules, once: Lua scripts that read and change one model's state atomically.

Both stores run these same scripts: Redis for every worker and host, and an
in-process Redis (fakeredis, with Lua) for a process on its own or during an
outage. So the rules cannot drift between them; tests run one table of cases
against both.

One clock: every time is the store's (`redis.call('TIME')`), and scripts take
and return durations relative to it, never a host's time. Tests pass a time
in ARGV[1] instead ('' in production).

State per key: a hash `h` and a sorted set `log` of booked calls (ticket ->
time). Hash fields:
  limit, period, pseen   learned quota: requests per `period` seconds; when a
                         reset reaching the period was last seen
  precent                the longest reset seen since then (what the period
                         decays to)
  open                   '1': answered without quota headers, nothing to pace
  paused, pset, last429  no call before `paused` (set at `pset`) after a 429
  reprobe                '1': after a pause, one call probes before the rest
  probe                  the probe's lease ends then
  hrem, hreset, hsent    the freshest `remaining`, valid until `hreset`,
                         counting the calls booked from `hsent` on
  why, whyat             the hint that paused or blocked the model, and when
  learn                  what the rules learned where no header states the quota
                         (JSON; quota/learned.py, updated in a WATCH/MULTI transaction)

Why a sliding log and not GCRA (one timestamp per key): GCRA with a burst of
`limit` lets 2 x limit - 1 calls into one fixed window; without the burst it
spreads calls evenly and a burst of `limit` waits limit - 1 intervals, which
the budgets cannot afford. The log holds at most `limit` live entries.
"""

CAP = 3600.0  # seconds: the longest pause, learned window or reset believed
DEFAULT_PERIOD = 60.0  # providers quote requests per minute
ADMIN_PERIOD = 60.0  # an admin's limit is per minute
TTL = 2 * 3600  # seconds: what no answer confirms for this long is forgotten
WHY_CHARS = 80  # the stored hint is bounded (and escaped where shown)

_PRELUDE = f"""
local CAP, DEFAULT_PERIOD, ADMIN_PERIOD, TTL = {CAP}, {DEFAULT_PERIOD}, {ADMIN_PERIOD}, {TTL}
local function s(x) return string.format('%.17g', x) end
local function clock(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function keep(key) if redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, TTL) end end

-- The earliest time a new call may go, and what holds it back. Reads only.
local function schedule(h, log, now, rpm, share, margin)
  local f = redis.call('HMGET', h, 'limit', 'period', 'open', 'paused', 'pset', 'probe', 'reprobe',
                       'hrem', 'hreset', 'hsent')
  local limit, period = tonumber(f[1]), tonumber(f[2]) or DEFAULT_PERIOD
  local paused = tonumber(f[4]) or 0
  local source = 'learned'
  if rpm > 0 then
    -- The operator's limit wins over what was learned, and bounds a pause to its own window.
    limit, period, source = rpm, ADMIN_PERIOD, 'admin'
    paused = math.min(paused, (tonumber(f[5]) or 0) + ADMIN_PERIOD)
  end
  local r = {{limit = limit, period = period, paused = paused, source = source, t = math.max(now, paused),
             lease = tonumber(f[6]) or 0, probe = false, blocked = 0}}
  if limit then r.share = math.max(1, math.floor(limit * share)) end
  r.probe = (not limit and f[3] ~= '1') or f[7] == '1'
  if r.share then
    local lo = '(' .. s(now - period - margin)
    local n = redis.call('ZCOUNT', log, lo, '+inf')
    r.used = n
    if n >= r.share then
      local kth = redis.call('ZRANGEBYSCORE', log, lo, '+inf', 'WITHSCORES', 'LIMIT', n - r.share, 1)
      r.t = math.max(r.t, tonumber(kth[2]) + period + margin)
    end
    if n > 0 then
      local last = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
      r.t = math.max(r.t, tonumber(last[2]))
    end
    local hrem, hreset, hsent = tonumber(f[8]), tonumber(f[9]), tonumber(f[10])
    if hrem and source == 'admin' then hreset = math.min(hreset, hsent + ADMIN_PERIOD) end  -- its minute, too
    if hrem and hreset > now then
      local after = redis.call('ZCOUNT', log, s(hsent), '(' .. s(hreset)) - 1
      r.left = math.max(hrem - math.max(after, 0), 0)
      if r.left <= 0 then
        r.blocked = hreset + margin
        if r.t < hreset then r.t = math.max(r.t, r.blocked) end
      end
    end
  end
  return r
end

local function learned_of(r)
  if r.source == 'learned' and r.limit then return tostring(r.limit), s(r.period) end
  return '', ''
end

-- Book the earliest slot within `horizon` (first come, first served), or say how far it is.
local function book(h, log, now, horizon, rpm, lease, margin, ticket, share)
  local r = schedule(h, log, now, rpm, share, margin)
  if r.t > now + horizon then
    if r.t <= r.paused then return {{'wait', s(r.t - now), 'paused'}} end
    return {{'wait', s(r.t - now), 'quota'}}
  end
  -- Another call is probing: its answer may come sooner than any slot.
  if r.probe and r.lease > now then return {{'wait', s(math.max(r.lease, r.t) - now), 'probe'}} end
  if r.share then redis.call('ZREMRANGEBYSCORE', log, '-inf', '(' .. s(now - r.period - margin)) end
  if r.probe then redis.call('HSET', h, 'probe', s(r.t + lease)) end
  if r.probe or r.share then
    redis.call('ZADD', log, s(r.t), ticket)
    redis.call('EXPIRE', log, TTL)
  end
  keep(h)
  -- What was learned goes back too: a process keeps it for an outage (see ADOPT).
  local learned, period = learned_of(r)
  if r.probe then return {{'slot', s(r.t - now), 'probe', learned, period}} end
  return {{'slot', s(r.t - now), '', learned, period}}
end
"""

# The helpers every script may call (the fair queue's scripts in `fairness` too).
PRELUDE = _PRELUDE

ACQUIRE = _PRELUDE + """
return book(KEYS[1], KEYS[2], clock(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
            tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]))
"""

# An outage begins: this process's store takes over what it knew from Redis, the learned limit and
# the calls it holds booked there (ARGV: now, limit, period, then ticket and wait pairs).
ADOPT = _PRELUDE + """
local h, log = KEYS[1], KEYS[2]
local now = clock(ARGV[1])
if ARGV[2] ~= '' and not redis.call('HGET', h, 'limit') then
  redis.call('HSET', h, 'limit', ARGV[2], 'period', ARGV[3], 'pseen', s(now), 'open', '0')
end
for i = 4, #ARGV, 2 do redis.call('ZADD', log, s(now + tonumber(ARGV[i + 1])), ARGV[i]) end
redis.call('EXPIRE', h, TTL)
redis.call('EXPIRE', log, TTL)
return 1
"""

RELEASE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'probe', '0') end
return 1
"""

OBSERVE = _PRELUDE + """
local h, log = KEYS[1], KEYS[2]
local now = clock(ARGV[1])
local ticket, limit, remaining, reset = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local answered, status = ARGV[6], ARGV[7]
local booked_at, sent_at, tol, why = now - tonumber(ARGV[8]), now - tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11]
-- What a rule learned where no header states it (quota/learned.py): a window set as is; `quiet`: a
-- success without a limit keeps the model probing; `reprobe`: the next call goes alone.
local learned_period, quiet, reprobe = tonumber(ARGV[12]), ARGV[13], ARGV[14]
redis.call('HSET', h, 'probe', '0')
if status ~= '' then redis.call('HDEL', h, 'reprobe') end  -- the probe was answered
-- The window opened when the call went out, not when it was booked.
redis.call('ZADD', log, 'XX', 'GT', s(sent_at), ticket)
if why ~= '' then redis.call('HSET', h, 'why', why, 'whyat', s(now)) end
if reset then reset = math.min(reset, CAP) end
if not limit then
  if answered == '1' and quiet ~= '1' and not redis.call('HGET', h, 'limit') then redis.call('HSET', h, 'open', '1') end
else
  redis.call('HSET', h, 'limit', limit, 'open', '0')
  if learned_period then
    redis.call('HSET', h, 'period', s(math.min(learned_period, CAP)), 'pseen', s(now), 'precent', '0')
  elseif reset then
    local f = redis.call('HMGET', h, 'period', 'pseen', 'precent')
    local period, pseen, recent = tonumber(f[1]), tonumber(f[2]) or now, tonumber(f[3]) or 0
    if not period or reset >= period - tol then
      -- A fixed window reports its full length on its first call, a token bucket on its last.
      period, pseen, recent = math.max(period or 0, reset), now, 0
    else
      recent = math.max(recent, reset)
      if now - pseen > 2 * period then period, pseen, recent = recent, now, 0 end  -- not seen again: decay
    end
    redis.call('HSET', h, 'period', s(period), 'pseen', s(pseen), 'precent', s(recent))
  end
  if reprobe == '1' then redis.call('HSET', h, 'reprobe', '1') end
  if reset and remaining then
    -- The provider counted `reset` from when it answered: at the latest, now (an image call
    -- takes seconds; counting from when it went out would end the window that much early).
    local new_reset = now + reset
    local g = redis.call('HMGET', h, 'hrem', 'hreset')
    local hrem, hreset = tonumber(g[1]), tonumber(g[2])
    if not hreset or new_reset > hreset + tol then  -- a newer window
      redis.call('HSET', h, 'hrem', remaining, 'hreset', s(new_reset), 'hsent', s(booked_at))
    elseif new_reset >= hreset - tol and remaining < hrem then  -- the same window, later
      redis.call('HSET', h, 'hrem', remaining, 'hsent', s(booked_at))
    end
  end
end
redis.call('EXPIRE', h, TTL)  -- an answer confirms what was learned
return 1
"""

PAUSE = _PRELUDE + """
local h = KEYS[1]
local now, seconds = clock(ARGV[1]), math.min(tonumber(ARGV[2]), CAP)
local paused = tonumber(redis.call('HGET', h, 'paused')) or 0
if now + seconds > paused then redis.call('HSET', h, 'paused', s(now + seconds), 'pset', s(now)) end
redis.call('HSET', h, 'last429', s(now), 'reprobe', '1')
if not redis.call('HGET', h, 'limit') then redis.call('HSET', h, 'open', '0') end
redis.call('EXPIRE', h, TTL)
return 1
"""

# The hot path's question while a booked call waits: only the pause (and, under an admin's
# limit, when it was set, since that limit bounds it to its own minute).
PAUSED_FOR = _PRELUDE + """
local f = redis.call('HMGET', KEYS[1], 'paused', 'pset')
local paused = tonumber(f[1]) or 0
if tonumber(ARGV[2]) > 0 then paused = math.min(paused, (tonumber(f[2]) or 0) + ADMIN_PERIOD) end
return s(math.max(paused - clock(ARGV[1]), 0))
"""

STATE = _PRELUDE + """
local h, log = KEYS[1], KEYS[2]
local now = clock(ARGV[1])
local r = schedule(h, log, now, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
local f = redis.call('HMGET', h, 'last429', 'why', 'whyat', 'period')
local remaining = ''
if r.share then
  remaining = math.max(r.share - r.used, 0)
  if r.left then remaining = math.min(remaining, r.left) end
end
local period = ''
if r.source == 'admin' then period = s(r.period) elseif f[4] then period = f[4] end
local lease = 0
if r.lease > now then lease = 1 end
return {s(now), r.limit and tostring(r.limit) or '', r.source, period, tostring(remaining),
        s(math.max(r.paused - now, 0)), s(math.max(r.blocked - now, 0)), f[1] or '', f[2] or '', f[3] or '',
        tostring(lease)}
"""
