-- A minimal key-value line protocol on a shared dictionary:
--
--   SET key value   -> OK
--   GET key         -> VALUE value | NIL
--   DEL key         -> OK
--   INCR key        -> <number>
--
--   streamlua serve --listen 127.0.0.1:7001 --dict kv=1m --content examples/kv/kv.lua
local kv = ngx.shared.kv
local sock = assert(ngx.req.socket(true))
while true do
    local line, err = sock:receive()
    if not line then
        if err ~= "timeout" then return end
    else
        local cmd, key, rest = line:match("^(%u+)%s+(%S+)%s*(.*)$")
        if cmd == "SET" then
            kv:set(key, rest)
            sock:send("OK\r\n")
        elseif cmd == "GET" then
            local v = kv:get(key)
            if v == nil then sock:send("NIL\r\n") else sock:send("VALUE ", v, "\r\n") end
        elseif cmd == "DEL" then
            kv:delete(key)
            sock:send("OK\r\n")
        elseif cmd == "INCR" then
            local n, e = kv:incr(key, 1, 0)
            if n then sock:send(n, "\r\n") else sock:send("ERR ", e, "\r\n") end
        else
            sock:send("ERR unknown command\r\n")
        end
    end
end
