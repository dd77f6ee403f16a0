-- The read timeout keeps counting while an idle entry is parked: when it
-- passes with no input, the entry runs again and its first receive returns
-- "timeout" at once, as if one run had waited all along.
--! send "hi\n"
--! expect "1 hi\n"
--! expect "2 timeout\n"
--! eof
local sock = assert(ngx.req.socket(true))
sock:settimeout(400)
sock:setidle(50)
local runs = ngx.shared.dogs:incr("setidle_timeout:" .. ngx.var.connection, 1, 0)
local tok = {}
local start = ngx.now()
while true do
    local n, err = sock:receive_command(tok)
    if not n then
        if err == "idle" then
            return ngx.AGAIN
        end
        if ngx.now() - start > 0.2 then
            err = "late " .. err
        end
        sock:send(runs, " ", err, "\n")
        return
    end
    sock:send(runs, " ", tok[1], "\n")
end
