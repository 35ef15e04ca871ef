-- complete.lua: store the done record, raise the order keys and release the
-- lease, atomically.
--
-- KEYS[1]  command record
-- KEYS[2]  the resource's lease and holds (holds.lua)  } only when a
-- KEYS[3]  resource order keys                         } lease key was given
-- ARGV[1]  payload hash
-- ARGV[2]  owner
-- ARGV[3]  result bytes
-- ARGV[4]  result TTL in milliseconds
-- ARGV[5]  '1' when a replay may reopen the done record, '0' otherwise
-- ARGV[6]  origin stream sequence ('' for none), kept on a reopenable record
-- ARGV[7]  origin time in Unix nanoseconds ('' for none), likewise
-- ARGV[8..] field, order key pairs: "key/seq", the key a canonical decimal
--           int64 and the stream sequence a canonical decimal uint64, as Go's
--           strconv.FormatInt and FormatUint write them
-- KEYS[#KEYS-1] the command's sighting (see begin.lua): dropped with the
--           claim when the done record is written
-- KEYS[#KEYS] the store's completion counter: raised by each done record
--           written (these two are taken off KEYS first, so the keys above
--           keep their places)
-- ARGV[#ARGV] the command id, taken off ARGV first: the command's hold
--           ends with its claim (the other commands' holds stay)
--
-- Reply: 1 done (now or before, same hash), 0 lost (nothing written).

-- greater reports a > b for canonical decimal int64 strings. Lua numbers are
-- doubles and lose precision above 2^53, so order keys are never converted.
local function greater(a, b)
  local aneg = string.sub(a, 1, 1) == '-'
  local bneg = string.sub(b, 1, 1) == '-'
  if aneg ~= bneg then
    return bneg
  end
  if #a ~= #b then
    if aneg then
      return #a < #b
    end
    return #a > #b
  end
  -- Same sign and length: digit strings compare as numbers (reversed for
  -- negatives).
  if aneg then
    return a < b
  end
  return a > b
end

-- ugreater reports a > b for canonical decimal uint64 strings.
local function ugreater(a, b)
  if #a ~= #b then
    return #a > #b
  end
  return a > b
end

-- split returns the key and the stream sequence of a stored order key: a
-- bare key (written before order keys had a sequence) has sequence '0'.
local function split(v)
  local i = string.find(v, '/', 1, true)
  if not i then
    return v, '0'
  end
  return string.sub(v, 1, i - 1), string.sub(v, i + 1)
end

-- after reports that order key a comes after b: the higher key, or the
-- same key with the higher stream sequence. Canonical decimals are equal
-- exactly when their numbers are.
local function after(a, b)
  local ak, as = split(a)
  local bk, bs = split(b)
  if ak ~= bk then
    return greater(ak, bk)
  end
  return ugreater(as, bs)
end

local completions = table.remove(KEYS)
local sighting = table.remove(KEYS)
local commandID = table.remove(ARGV)
local leased = #KEYS >= 2
-- release drops the owner's lease and the command's hold (the other
-- commands' holds stay).
local function release()
  if leased then
    local cur = redis.call('HMGET', KEYS[2], LEASE, commandID)
    dropOwn(KEYS[2], commandID, ARGV[2], cur[1], cur[2])
  end
end

local rec = redis.call('HMGET', KEYS[1], 's', 'h', 'o')
if rec[1] == 'd' then
  if rec[2] ~= ARGV[1] then
    return 0
  end
  release()
  return 1
end
if rec[1] == 'c' and rec[3] ~= ARGV[2] then
  return 0
end

redis.call('DEL', KEYS[1], sighting)
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 's', 'd', 'h', ARGV[1], 'r', ARGV[3], 'f', '1')
  if ARGV[6] ~= '' then
    redis.call('HSET', KEYS[1], 'q', ARGV[6], 't', ARGV[7])
  end
else
  redis.call('HSET', KEYS[1], 's', 'd', 'h', ARGV[1], 'r', ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('INCR', completions)

-- The order keys: one read and one write for all the fields.
if leased and #ARGV > 8 then
  local fields = {}
  for i = 8, #ARGV - 1, 2 do
    fields[#fields + 1] = ARGV[i]
  end
  local cur = redis.call('HMGET', KEYS[3], unpack(fields))
  local raised = {}
  for n, f in ipairs(fields) do
    local key = ARGV[7 + 2 * n]
    if (not cur[n]) or after(key, cur[n]) then
      raised[#raised + 1] = f
      raised[#raised + 1] = key
    end
  end
  if #raised > 0 then
    redis.call('HSET', KEYS[3], unpack(raised))
  end
end
release()
return 1
