-- fence.lua: prepended to begin.lua (store.go builds the one script from
-- both): when the caller set a fence, the store's epoch marker must be the
-- fence's and its completion counter at least the fence's, or nothing is
-- read or written. It takes its keys and arguments off the end of KEYS and
-- ARGV, so begin.lua sees its own as documented there.
--
-- KEYS[#KEYS-1] the store's epoch marker (string, no expiry)
-- KEYS[#KEYS]   the store's completion counter (integer, no expiry)
-- ARGV[#ARGV-1] the fence's epoch; '' for no fence
-- ARGV[#ARGV]   the fence's completion floor (decimal, below 2^53)
--
-- Reply when fenced: {'store_lost', marker|false, counter|false}.
local fenceCounter = table.remove(KEYS)
local fenceMarker = table.remove(KEYS)
local fenceFloor = table.remove(ARGV)
local fenceEpoch = table.remove(ARGV)
if fenceEpoch ~= '' then
  local fenced = redis.call('MGET', fenceMarker, fenceCounter)
  local marker, counter = fenced[1], fenced[2]
  if marker ~= fenceEpoch or tonumber(counter or '0') < tonumber(fenceFloor) then
    return {'store_lost', marker, counter}
  end
end
