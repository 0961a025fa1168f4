--[[
  txDay: starts a new day for one event's (or organizer's) keys. Called with numberOfKeys = #KEYS.
  KEYS[1]     the live HASH, whose `day` field says which day the keys hold
  KEYS[2..n]  the other keys of the same event/organizer
  ARGV[1]     the day being written (YYYY-MM-DD, UTC)
  When KEYS[1] holds an earlier day (or none), every key is dropped first and the new day recorded. When it holds
  a later day, nothing is dropped: a node still flushing the day before (its facts queued across midnight) must not
  wipe the day another node has started; the day only moves forward, as in memory (LiveState.rollTo).
  Returns 0 when the keys hold ARGV[1], 1 when they hold a later day.
]]
local cur = redis.call('HGET', KEYS[1], 'day')
if cur == ARGV[1] then
  return 0
end
if cur and cur > ARGV[1] then
  return 1
end
redis.call('DEL', unpack(KEYS))
redis.call('HSET', KEYS[1], 'day', ARGV[1])
return 0
