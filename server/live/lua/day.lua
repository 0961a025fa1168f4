--[[
  txDay: starts a new day for one event's (or organizer's) keys. Called with numberOfKeys = #KEYS.
  KEYS[1]     the live HASH, whose `day` field says which day the keys hold
  KEYS[2..n]  the other keys of the same event/organizer
  ARGV[1]     the day being written (YYYY-MM-DD, UTC)
  When KEYS[1] holds another day, every key is dropped first and the new day recorded.
  Returns 0.
]]
if redis.call('HGET', KEYS[1], 'day') ~= ARGV[1] then
  redis.call('DEL', unpack(KEYS))
  redis.call('HSET', KEYS[1], 'day', ARGV[1])
end
return 0
