--[[
  txCount: starts the event's day if needed (as txDay) and adds one event's facts of a batch to its counters and
  funnel stream, each fact once while the day is being seeded. Called with numberOfKeys = #KEYS.
  KEYS[1]     the event's live HASH (its `day` field says which day the keys hold)
  KEYS[2]     the event's funnel STREAM
  KEYS[3]     the day's seeding flag: present while a node rebuilds the day from the store, and a grace after
  KEYS[4]     the day's SET of facts counted while the flag is present ("tenant\tfact id")
  KEYS[5..n]  the event's other keys (dropped with KEYS[1] and KEYS[2] when a new day starts)
  ARGV[1]     the day of the facts (YYYY-MM-DD, UTC)
  ARGV[2]     the stream's MAXLEN (~)
  ARGV[3..]   per fact, 7 values then its counter pairs: its member of KEYS[4] ('' = never deduplicated), funnel
              step ('' = none), at, visitor, session, fact id, how many (field, delta) pairs follow
  Why here and not in plain HINCRBYs: the seeder replays the whole day while the other nodes keep writing their
  new facts. A fact a node writes after the seeder cleared the day, and that the seeder also reads from the
  store, would be added twice. The flag is set in the same step as the clear (warm.ts), so every write after
  the clear sees it; checking it, recording the fact and adding its counts in one script leaves no moment
  where two writers both see the fact as new. Without the flag (every other moment) the batch adds its sums.
  A later day in KEYS[1] (a node still flushing the day before) takes no counts. Returns the facts counted.
]]
local live, stream, flag, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local day = ARGV[1]
local cur = redis.call('HGET', live, 'day')
if cur and cur > day then
  return 0
end
if cur ~= day then
  redis.call('DEL', live, stream)
  for i = 5, #KEYS do redis.call('DEL', KEYS[i]) end
  redis.call('HSET', live, 'day', day)
end
local seeding = redis.call('EXISTS', flag) == 1
local sums, fields = {}, {}
local counted, recorded = 0, false
local i = 3
while i <= #ARGV do
  local member, step = ARGV[i], ARGV[i + 1]
  local pairs = tonumber(ARGV[i + 6])
  local new = true
  if seeding and member ~= '' then
    new = redis.call('SADD', seen, member) == 1
    recorded = true
  end
  if new then
    counted = counted + 1
    if step ~= '' then
      redis.call('XADD', stream, 'MAXLEN', '~', ARGV[2], '*', 'k', step, 'at', ARGV[i + 2], 'v', ARGV[i + 3], 's', ARGV[i + 4], 'id', ARGV[i + 5])
    end
    for p = 0, pairs - 1 do
      local f = ARGV[i + 7 + 2 * p]
      if not sums[f] then
        sums[f] = 0
        fields[#fields + 1] = f
      end
      sums[f] = sums[f] + tonumber(ARGV[i + 8 + 2 * p])
    end
  end
  i = i + 7 + 2 * pairs
end
for _, f in ipairs(fields) do
  if sums[f] ~= 0 then redis.call('HINCRBY', live, f, string.format('%.0f', sums[f])) end
end
-- The SET lives as long as the flag (the seeder renews both, then leaves them a grace): it goes with it.
if recorded then
  local ttl = redis.call('PTTL', flag)
  if ttl > 0 then redis.call('PEXPIRE', seen, ttl) end
end
return counted
