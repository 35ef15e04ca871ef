-- renew.lua: extend the claim, the lease and the command's hold on the
-- resource when claim and lease are still the owner's.
--
-- KEYS[1]  command record
-- KEYS[2]  resource lease                    } only when a lease
-- KEYS[3]  the command's hold on the resource } key was given
-- ARGV[1]  owner
-- ARGV[2]  TTL in milliseconds
-- ARGV[3]  the hold's TTL in milliseconds (TTL + Hold)
-- ARGV[4]  the hold's value (command id, NUL, owner)
--
-- Reply: 1 renewed, 0 lost (nothing changed).
local rec = redis.call('HMGET', KEYS[1], 's', 'o')
if rec[1] ~= 'c' or rec[2] ~= ARGV[1] then
  return 0
end
local leased = #KEYS >= 2
if leased and redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
-- One clock reading: the claim and the lease lapse together (see begin.lua).
local clock = redis.call('TIME')
local nowMs = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('PEXPIREAT', KEYS[1], nowMs + tonumber(ARGV[2]))
if leased then
  redis.call('PEXPIREAT', KEYS[2], nowMs + tonumber(ARGV[2]))
  if redis.call('GET', KEYS[3]) == ARGV[4] then
    redis.call('PEXPIREAT', KEYS[3], nowMs + tonumber(ARGV[3]))
  end
end
return 1
