-- receive("*l") and receive(): lines end at LF, every CR is dropped.
--! send "hello\r\nwor\rld\r\nplain\n"
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
t.eq(t.n(1, sock:receive()), "hello", "default pattern")
t.eq(sock:receive("*l"), "world", "CR inside the line is dropped")
t.eq(sock:receive("*l"), "plain", "bare LF")
t.done(sock)
