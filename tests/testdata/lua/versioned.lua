-- A handler whose reply names its code version; the reload test rewrites
-- VERSION and checks which connections see which code. It also counts
-- connections (that sent something: readiness probes don't count) in a
-- shared dict, to show dicts survive a reload.
local VERSION = "v1"
local sock = assert(ngx.req.socket(true))
local n
while true do
    local line, err = sock:receive()
    n = n or (line and ngx.shared.state:incr("conns", 1, 0))
    if not line then
        if err ~= "timeout" then return end
    elseif line == "boom" then
        error("boom requested")
    else
        sock:send(VERSION, " ", line, " ", n, "\r\n")
    end
end
