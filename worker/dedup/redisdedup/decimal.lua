-- decimal.lua: prepended to the scripts that compare stream sequences
-- (store.go builds each from its sources). Lua numbers are doubles, exact
-- only to 2^53, so sequences are compared as canonical decimal strings.

-- below reports a < b for canonical decimal uint64 strings.
local function below(a, b)
  if #a ~= #b then
    return #a < #b
  end
  return a < b
end
