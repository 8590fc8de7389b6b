"""Fair share of a model's quota among API tokens: weighted fair queueing on the pacer's schedule.

The rule is docs/FAIRNESS.md's; here it is once, as Lua scripts that both stores
run (like `scripts`), on the store's clock.

Each model key has, beside the pacer's hash `h` and log `log`:
  q    hash: waiting entry (a request's ticket) -> "token weight seq expires told arrived"
       `told` 0: a request waiting now, polling at its projected slot; `told` > 0: a hold,
       the place of a client told to come back at `told` (its Retry-After)
  tb   hash: token -> its virtual finish tag (the tag of its last served call)
  sv   sorted set: served calls of the last `SHARE_WINDOW` seconds, "token ticket" -> time
and in `h`: `vt`, the virtual time (the tag of the latest call served), `seq`, arrival order.

A token's k-th waiting entry carries the tag tb + k / weight (a token that was not waiting
starts at the virtual time). The slots the schedule will open (the sliding log's rule, the
provider's `remaining`, a pause) go one by one to the token with the smallest next tag that has
an entry able to use the slot (a hold from `ROUNDING` before its `told` time on, the slot then
waiting for its client). A request is granted when its
own projected slot has come; otherwise it waits (polling at its slot) if that is within its
horizon, else it is refused with the slot's time, and, when it has no other model to try, its
place is kept as a hold for its token until then plus `GRACE`.
"""
from . import scripts

GRACE = 3.0  # seconds: how long a place is kept past its projected slot or a hold past its told time
CLAIM_EARLY = 1.0  # seconds: a client back this much before its Retry-After still claims its hold
# seconds: a client is told a whole number of seconds (Retry-After), up to this much after its slot;
# the slot waits that long for it rather than going to someone who asked later
ROUNDING = 1.0
MAX_WAITING = 400  # entries per model: the bound on the queue (and on the scripts' work)
SHARE_WINDOW = 600.0  # seconds: "each token's share of the last ten minutes"

_FAIR_PRELUDE = scripts.PRELUDE + f"""
local GRACE, CLAIM_EARLY, MAX_WAITING, SHARE_WINDOW = {GRACE}, {CLAIM_EARLY}, {MAX_WAITING}, {SHARE_WINDOW}
local ROUNDING = {ROUNDING}
local function parse(id, v)
  local tk, w, seq, exp, told, arr = string.match(v, '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
  return {{id = id, token = tk, w = tonumber(w), seq = tonumber(seq), exp = tonumber(exp), told = tonumber(told),
          arr = tonumber(arr)}}
end
local function enc(e)
  return e.token .. ' ' .. s(e.w) .. ' ' .. s(e.seq) .. ' ' .. s(e.exp) .. ' ' .. s(e.told) .. ' ' .. s(e.arr)
end
-- The live entries, oldest first; expired ones are dropped (a crashed or departed waiter).
local function entries_of(q, now)
  local raw, out = redis.call('HGETALL', q), {{}}
  for i = 1, #raw, 2 do
    local e = parse(raw[i], raw[i + 1])
    if not e.seq or e.exp < now then redis.call('HDEL', q, raw[i]) else table.insert(out, e) end
  end
  table.sort(out, function(a, b) return a.seq < b.seq end)
  return out
end
"""

ACQUIRE_FAIR = _FAIR_PRELUDE + """
local h, log, q, tb, sv = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, horizon = clock(ARGV[1]), tonumber(ARGV[2])
local rpm, lease, margin, ticket, share = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6],
                                          tonumber(ARGV[7])
local token, weight, hold = ARGV[8], tonumber(ARGV[9]), ARGV[10] == '1'
local r = schedule(h, log, now, rpm, share, margin)
if r.probe or not r.share then
  -- Nothing to share yet (the limit is being learned) or nothing to pace: first come, first served.
  redis.call('HDEL', q, ticket)
  return book(h, log, now, horizon, rpm, lease, margin, ticket, share)
end
local V = tonumber(redis.call('HGET', h, 'vt')) or 0
local all, mine, claim, backlogged = entries_of(q, now), nil, nil, false
for _, e in ipairs(all) do
  if e.id == ticket then mine = e
  elseif e.token == token then
    backlogged = true
    if e.told > 0 and e.told <= now + CLAIM_EARLY and not claim then claim = e end
  end
end
if not mine then
  if claim then
    -- A client back at its Retry-After takes its token's place.
    redis.call('HDEL', q, claim.id)
    mine = claim
  else
    if #all >= MAX_WAITING then return {'wait', s(r.period), 'quota'} end
    if not backlogged then
      -- A token starting to wait starts at the virtual time: no credit for having been idle.
      redis.call('HSET', tb, token, s(math.max(tonumber(redis.call('HGET', tb, token)) or V, V)))
    end
    mine = {seq = redis.call('HINCRBY', h, 'seq', 1), arr = now}
    table.insert(all, mine)
  end
  mine.id = ticket
end
mine.token, mine.w, mine.told = token, weight, 0

-- Each token's queue, and its next tag.
local toks, order = {}, {}
for _, e in ipairs(all) do
  local t = toks[e.token]
  if not t then
    t = {list = {}, tag = tonumber(redis.call('HGET', tb, e.token)) or V}
    toks[e.token] = t
    table.insert(order, t)
  end
  t.w = e.w
  table.insert(t.list, e)
end

-- The slots to come, in order, by the sliding log's rule; each to the smallest next tag.
local times = {}
local logged = redis.call('ZRANGEBYSCORE', log, '(' .. s(now - r.period - margin), '+inf', 'WITHSCORES')
for i = 2, #logged, 2 do table.insert(times, tonumber(logged[i])) end
local reset_at = nil
if r.left then reset_at = (tonumber(redis.call('HGET', h, 'hreset')) or now) + margin end
local last, given, at = r.t, 0, nil
for _ = 1, 2 * #all + 2 do
  local t = last
  if #times >= r.share then t = math.max(t, times[#times - r.share + 1] + r.period + margin) end
  if reset_at and given >= r.left then t = math.max(t, reset_at) end
  local best, bi, soonest = nil, nil, nil
  for _, tk in ipairs(order) do
    for i, e in ipairs(tk.list) do
      if e.told <= t + ROUNDING then
        local tag = tk.tag + 1 / tk.w
        if not best or tag < best.tag + 1 / best.w - 1e-9
           or (tag <= best.tag + 1 / best.w + 1e-9 and e.seq < best.list[bi].seq) then best, bi = tk, i end
        break
      end
      soonest = math.min(soonest or e.told, e.told)
    end
  end
  if not best then
    if not soonest then break end
    last = math.max(last, soonest - ROUNDING)  -- only holds remain, told to come later: the slot waits
  else
    local e = table.remove(best.list, bi)
    best.tag = best.tag + 1 / best.w
    t = math.max(t, e.told)  -- a hold's slot is when its client comes back
    table.insert(times, t)
    last, given = t, given + 1
    if e == mine then at = t break end
  end
end
if not at then return {'wait', s(r.period), 'quota'} end

local learned, period = learned_of(r)
if at <= now then
  redis.call('HDEL', q, ticket)
  redis.call('ZREMRANGEBYSCORE', log, '-inf', '(' .. s(now - r.period - margin))
  redis.call('ZADD', log, s(now), ticket)
  local tag = math.max(tonumber(redis.call('HGET', tb, token)) or V, 0) + 1 / weight
  redis.call('HSET', tb, token, s(tag))
  redis.call('HSET', h, 'vt', s(math.max(V, tag)))
  redis.call('ZADD', sv, s(now), token .. ' ' .. ticket)
  redis.call('ZREMRANGEBYSCORE', sv, '-inf', '(' .. s(now - SHARE_WINDOW))
  for _, k in ipairs({log, tb, sv}) do redis.call('EXPIRE', k, TTL) end
  keep(h)
  return {'slot', '0', '', learned, period}
end
local reason = 'quota'
if r.paused > now and at <= r.paused + 1e-6 then reason = 'paused' end
local wait = at - now
if wait <= horizon then
  mine.exp = at + GRACE
  redis.call('HSET', q, ticket, enc(mine))
  redis.call('EXPIRE', q, TTL)
  return {'queued', s(wait), reason, learned, period}
end
if hold then
  -- Refused: the client is told to come back when this place's slot comes, and it is kept for it.
  wait = math.ceil(wait)
  mine.told = now + wait
  mine.exp = mine.told + GRACE
  redis.call('HSET', q, ticket, enc(mine))
  redis.call('EXPIRE', q, TTL)
else
  redis.call('HDEL', q, ticket)
end
return {'wait', s(wait), reason}
"""

LEAVE = """
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""

# Who waits (per token: waiting now, holds, the oldest arrival) and who was served in the last
# SHARE_WINDOW seconds (per token: calls), for the admin and /metrics.
FAIR_STATE = _FAIR_PRELUDE + """
local q, sv = KEYS[1], KEYS[2]
local now = clock(ARGV[1])
local per, out = {}, {}
for _, e in ipairs(entries_of(q, now)) do
  local p = per[e.token]
  if not p then p = {0, 0, e.arr, 0}; per[e.token] = p end
  if e.told > 0 then p[2] = p[2] + 1 else p[1] = p[1] + 1 end
  p[3] = math.min(p[3], e.arr)
end
redis.call('ZREMRANGEBYSCORE', sv, '-inf', '(' .. s(now - SHARE_WINDOW))
for _, m in ipairs(redis.call('ZRANGE', sv, 0, -1)) do
  local tk = string.match(m, '^(%S+)')
  local p = per[tk]
  if not p then p = {0, 0, now, 0}; per[tk] = p end
  p[4] = p[4] + 1
end
for tk, p in pairs(per) do
  table.insert(out, tk)
  table.insert(out, tostring(p[1]))
  table.insert(out, tostring(p[2]))
  table.insert(out, s(now - p[3]))
  table.insert(out, tostring(p[4]))
end
table.insert(out, 1, s(now))
return out
"""
