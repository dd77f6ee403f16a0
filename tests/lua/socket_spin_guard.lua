-- The classic bug: a loop that ignores "closed" is ended by the host after
-- repeated receives on a closed socket, instead of spinning forever.
--! send "one\n"
--! closewrite
--! expect "got one\n"
--! eof
local sock = assert(ngx.req.socket(true))
local n = 0
while true do
    local line = sock:receive()
    if line then
        sock:send("got " .. line .. "\n")
    end
    n = n + 1
    if n > 100000 then
        sock:send("spin guard did not fire\n")
        return
    end
end
