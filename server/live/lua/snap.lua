--[[
  txSnap: a lane's snapshot replaces the held one only when newer; then the scans that can no longer change a
  number go, by capacity.ts prune's rule: a session lane's scans are counted by the gate-wide snapshot when the
  gate has one (else by the session's own), a gate-wide snapshot counts every lane of its gate; a scan goes when
  that snapshot's totals include its kind (exits: always, grants: total_entries, denials: total_denied) and it is
  at or before the snapshot and out of the rate window.
  KEYS[1]  the event's gates HASH (lane → newest snapshot, JSON with `at`; a lane is "gate" or "gate\0session")
  KEYS[2]  the event's scans ZSET (member "lane\tkind\tid", score = occurred at)
  ARGV[1]  the lane
  ARGV[2]  the snapshot's time (ms)
  ARGV[3]  the snapshot (JSON)
  ARGV[4]  now (ms)
  Returns 1 when stored, 0 when an equal or newer snapshot is held.
]]
local lane = ARGV[1]
local at = tonumber(ARGV[2])
local cur = redis.call('HGET', KEYS[1], lane)
if cur then
  local held = cjson.decode(cur)
  if held.at >= at then return 0 end
end
redis.call('HSET', KEYS[1], lane, ARGV[3])

local sep = string.find(lane, '\0', 1, true)
local by = cjson.decode(ARGV[3])
-- Which lanes' scans this snapshot decides: a session's own, or (gate-wide) the whole gate's.
local prefixes = { lane .. '\t' }
if sep then
  local wide = redis.call('HGET', KEYS[1], string.sub(lane, 1, sep - 1))
  if wide then by = cjson.decode(wide) end
else
  prefixes[2] = lane .. '\0'
end

local horizon = math.min(by.at, tonumber(ARGV[4]) - 60000)
local covered = { x = true, g = by.entries ~= cjson.null, d = by.denied ~= cjson.null }
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', horizon)) do
  for _, p in ipairs(prefixes) do
    if string.sub(m, 1, #p) == p then
      local t = string.find(m, '\t', #p, true)
      if covered[string.sub(m, t + 1, t + 1)] then redis.call('ZREM', KEYS[2], m) end
      break
    end
  end
end
return 1
