--[[
jobgate_version: the library version the installer compares with its own.
KEYS: none. ARGV: none. Read-only.
Returns: LIBRARY_VERSION.
Events: none.
]]
redis.register_function {
  function_name = 'jobgate_version',
  flags = { 'no-writes' },
  callback = function() return LIBRARY_VERSION end,
}
