-- receive(n) with numbers, numeric strings and 0; data split across packets.
--! send "abc"
--! sleep 30ms
--! send "defgh\r\n12345"
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
t.eq(sock:receive(0), "", "zero bytes returns at once")
t.eq(sock:receive(5), "abcde", "waits for a second packet")
t.eq(sock:receive("3"), "fgh", "numeric string size")
t.eq(sock:receive(2.9), "\r\n", "fractional size truncates")
t.eq(sock:receive(5), "12345", "exact")
t.done(sock)
