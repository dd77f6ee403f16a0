-- The bundled memcached server with one more command, "spin", that never
-- returns: the Lua budget must stop it although the server runs every
-- command inside pcall.
local server = require "resty.memcached.server"

local s = server.new()
s:register("spin", function()
    local n = 0
    while true do n = n + 1 end
end)

return { run = function() return s:run() end }
