-- wrapped_get: the bundled server with "get" wrapped to count lookups in
-- a reply line, for TestMemcachedWrappedGet: the serve loop runs the
-- bundled get of one key inline, and must not when it has been replaced.
local server = require "resty.memcached.server"

local mc = server.new()
local builtin_get = mc:command("get")
local calls = 0
mc:register("get", function(c, tok, n)
    calls = calls + 1
    c.send(c.sock, "CALLS ", calls, "\r\n")
    return builtin_get(c, tok, n)
end)

return {
    run = function()
        return mc:run()
    end,
}
