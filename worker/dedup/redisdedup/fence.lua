-- fence.lua: prepended to begin.lua (store.go builds the one script from
-- both): when the caller expects an epoch, the store's epoch marker must be
-- it, or nothing is read or written. It takes its key and argument off the
-- end of KEYS and ARGV, so begin.lua sees its own as documented there.
--
-- KEYS[#KEYS]  the store's epoch marker (string, no expiry)
-- ARGV[#ARGV]  the expected epoch; '' for no fence
--
-- Reply when fenced: {'store_lost', marker|false}.
local fenceMarker = table.remove(KEYS)
local fenceEpoch = table.remove(ARGV)
if fenceEpoch ~= '' then
  local marker = redis.call('GET', fenceMarker)
  if marker ~= fenceEpoch then
    return {'store_lost', marker}
  end
end
