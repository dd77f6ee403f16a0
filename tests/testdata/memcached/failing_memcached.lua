-- failing_memcached: the bundled server plus a "boom" command whose
-- handler raises a Lua error, for TestMemcachedLuaError.
local server = require "resty.memcached.server"

local mc = server.new()
mc:register("boom", function()
    error("deliberate failure")
end)

return {
    run = function()
        return mc:run()
    end,
}
