-- An echo server: the smallest useful stream handler.
--
--   streamlua serve --listen 127.0.0.1:7000 --content examples/echo/echo.lua
--   printf 'hello\nquit\n' | nc 127.0.0.1 7000
local sock = assert(ngx.req.socket(true))
sock:settimeout(60000)
while true do
    local line, err = sock:receive()
    if not line then
        if err ~= "timeout" then
            return -- "closed": the client went away
        end
    elseif line == "quit" then
        sock:send("bye\r\n")
        return
    else
        sock:send(line, "\r\n")
    end
end
