-- release.lua: drop the owner's claim and lease; a no-op for anything not
-- the owner's (a done record is never touched).
--
-- KEYS[1]  command record
-- KEYS[2]  resource lease (only when a lease key was given)
-- ARGV[1]  owner
--
-- Reply: 1.
local rec = redis.call('HMGET', KEYS[1], 's', 'o')
if rec[1] == 'c' and rec[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
if #KEYS >= 2 and redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
return 1
