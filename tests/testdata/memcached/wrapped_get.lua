-- wrapped_get: the bundled server with "get" wrapped to count lookups in
-- a reply line, for TestMemcachedWrappedGet: the serve loop runs the
-- bundled get of one key inline, and must not when it has been replaced.
local server = require "resty.memcached.server"

local mc = server.new()
local builtin_get = mc:command("get")
local calls = 0
local function wrapped(c, tok, n)
    calls = calls + 1
    c.send(c.sock, "CALLS ", calls, "\r\n")
    return builtin_get(c, tok, n)
end
mc:register("get", wrapped)
-- "plain" and "wrap" swap the handler while a connection is being served.
mc:register("plain", function(c)
    mc:register("get", builtin_get)
    c.send(c.sock, "OK\r\n")
end)
mc:register("wrap", function(c)
    mc:register("get", wrapped)
    c.send(c.sock, "OK\r\n")
end)

return {
    run = function()
        return mc:run()
    end,
}
