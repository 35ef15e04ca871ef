-- release.lua: drop the owner's claim and lease, and its command's hold on
-- the resource unless asked to keep it; a no-op for anything not the
-- owner's (a done record is never touched, nor the command's sighting).
--
-- KEYS[1]  command record
-- KEYS[2]  resource lease                    } only when a lease
-- KEYS[3]  the command's hold on the resource } key was given
-- ARGV[1]  owner
-- ARGV[2]  the hold's value (command id, NUL, owner)
-- ARGV[3]  '1': keep the hold for ARGV[4] ms (a write may have landed);
--          '0': drop it
-- ARGV[4]  the hold's TTL in milliseconds when kept
--
-- Reply: 1.
local rec = redis.call('HMGET', KEYS[1], 's', 'o')
if rec[1] == 'c' and rec[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
if #KEYS >= 2 then
  local held = redis.call('MGET', KEYS[2], KEYS[3])
  if held[1] == ARGV[1] then
    redis.call('DEL', KEYS[2])
  end
  if held[2] == ARGV[2] then
    if ARGV[3] == '1' then
      redis.call('PEXPIRE', KEYS[3], ARGV[4])
    else
      redis.call('DEL', KEYS[3])
    end
  end
end
return 1
