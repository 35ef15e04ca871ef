-- may_have_written.lua: record on a command's sighting that a delivery
-- of it may have written without its answer (begin.lua then says
-- resumed), when the owner holds the claim.
--
-- KEYS[1]  command record
-- KEYS[2]  its sighting
-- ARGV[1]  owner
-- ARGV[2]  the sighting's TTL in milliseconds: it is kept at least that
--
-- Reply: 1 recorded, 0 the claim is not the owner's (nothing changed).
local rec = redis.call('HMGET', KEYS[1], 's', 'o')
if rec[1] ~= 'c' or rec[2] ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[2], 'w', '1')
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
