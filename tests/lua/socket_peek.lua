-- peek returns bytes without consuming them, until the first receive.
--! send "GET / HTTP/1.0\r\n"
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
t.eq(sock:peek(3), "GET", "peek")
t.eq(sock:peek(5), "GET /", "peek again from the start")
t.eq(sock:peek(0), "", "zero")
t.raises("bytes can not be negative", sock.peek, sock, -1)
t.eq(sock:receive(), "GET / HTTP/1.0", "receive sees everything")
t.raises("attempt to peek on a consumed socket", sock.peek, sock, 1)
t.done(sock)
