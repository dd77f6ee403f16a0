-- Replies with the timer tick count and the phase init_worker ran in.
local sock = assert(ngx.req.socket(true))
while true do
    local line = sock:receive()
    if not line then return end
    local st = ngx.shared.state
    sock:send(st:get("phase") or "none", " ", st:get("ticks") or 0, " ", st:get("init") or "none", "\r\n")
end
