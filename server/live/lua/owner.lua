--[[
  txOwner: records the event's owner (owners.ts) unless it holds a secret owner and this one is public
  (nodes may flush in any order; a secret owner never moves).
  KEYS[1]  the event's live HASH
  ARGV[1]  organizer_id
  ARGV[2]  owner_source ('secret' or 'public')
  Returns 1 when written, 0 when refused.
]]
if redis.call('HGET', KEYS[1], 'owner_source') == 'secret' and ARGV[2] ~= 'secret' then return 0 end
redis.call('HSET', KEYS[1], 'organizer_id', ARGV[1], 'owner_source', ARGV[2])
return 1
