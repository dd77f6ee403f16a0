-- A handler module whose first three loads raise (counted in the shared
-- dict "state"): the test shows every failing connection logs the real
-- error, not a stale "loop or previous error" left in a pooled state, and
-- that the module loads once the cause is gone.
local loads = ngx.shared.state:incr("loads", 1, 0)
if loads <= 3 then
    error("module refuses to load, attempt " .. loads)
end

local _M = {}

function _M.run()
    local sock = assert(ngx.req.socket(true))
    sock:send("loaded\r\n")
end

return _M
