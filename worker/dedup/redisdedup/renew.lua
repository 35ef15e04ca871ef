-- renew.lua: extend the claim, the lease and the command's hold on the
-- resource when claim and lease are still the owner's; for a command that
-- joined another owner's lease, the claim and its hold while that owner
-- holds the lease (which that owner renews).
--
-- KEYS[1]  command record
-- KEYS[2]  resource lease                     } only when a lease
-- KEYS[3]  the resource's holds (holds.lua)   } key was given
-- ARGV[1]  owner
-- ARGV[2]  TTL in milliseconds
-- ARGV[3]  the hold's TTL in milliseconds (TTL + Hold)
-- ARGV[4]  the command id
-- ARGV[5]  the owner of the lease the command joined ('' for none)
--
-- Reply: 1 renewed, 0 lost (nothing changed).
local rec = redis.call('HMGET', KEYS[1], 's', 'o')
if rec[1] ~= 'c' or rec[2] ~= ARGV[1] then
  return 0
end
local leased = #KEYS >= 2
local leaseOwner = ARGV[1]
if ARGV[5] ~= '' then
  leaseOwner = ARGV[5]
end
if leased and redis.call('GET', KEYS[2]) ~= leaseOwner then
  return 0
end
-- One clock reading: the claim and the lease lapse together (see begin.lua).
local nowMs = holdNow()
redis.call('PEXPIREAT', KEYS[1], nowMs + tonumber(ARGV[2]))
if leased then
  if ARGV[5] == '' then
    redis.call('PEXPIREAT', KEYS[2], nowMs + tonumber(ARGV[2]))
  end
  if holdOf(KEYS[3], ARGV[4], nowMs) == ARGV[1] then
    setHold(KEYS[3], ARGV[4], ARGV[1], nowMs + tonumber(ARGV[3]), nowMs)
  end
end
return 1
