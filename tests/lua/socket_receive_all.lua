-- receive("*a") reads to EOF and returns "" again afterwards; the next line
-- read reports closed with an empty partial.
--! send "line one\r\nline two"
--! closewrite
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
t.eq(sock:receive("*a"), "line one\r\nline two", "no CR translation")
t.eq(t.n(1, sock:receive("*a")), "", "again at EOF")
local d, err, partial = t.n(3, sock:receive())
t.eq(err, "closed", "line after *a")
t.eq(partial, "", "empty partial")
t.done(sock)
