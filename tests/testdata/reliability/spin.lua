-- A line handler with a command that never returns: the reliability test
-- checks that --lua-exec-timeout stops it, logs this file's line, closes
-- only its connection, and that "sleep" (waiting, not running) is not
-- charged against the budget.
local sock = assert(ngx.req.socket(true))
while true do
    local line, err = sock:receive()
    if not line then
        if err ~= "timeout" then return end
    elseif line == "spin" then
        local n = 0
        while true do n = n + 1 end
    elseif line == "sleep" then
        ngx.sleep(0.5)
        sock:send("slept\r\n")
    else
        sock:send("echo ", line, "\r\n")
    end
end
