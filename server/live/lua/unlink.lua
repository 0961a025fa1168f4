--[[
  txUnlink: an event left an organizer: remove it from the organizer's events SET and rebuild the organizer's
  visitors HLL from the events it keeps, since a HyperLogLog cannot forget. Builds key names (ARGV[2] .. event
  .. ':uv'): like the rest of the mirror it assumes one Redis, not a cluster.
  KEYS[1]  the organizer's events SET
  KEYS[2]  the organizer's visitors HLL
  ARGV[1]  the event id that left
  ARGV[2]  the key prefix of the tenant's events ("{prefix}{tenant}:analytics:event:")
  Returns 0.
]]
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
for _, e in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('PFMERGE', KEYS[2], KEYS[2], ARGV[2] .. e .. ':uv')
end
return 0
