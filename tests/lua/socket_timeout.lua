-- A read timeout is not fatal: nil, "timeout", partial (consumed), then the
-- socket keeps working.
--! send "ab"
--! sleep 300ms
--! send "cd\n"
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
sock:settimeout(100)
local d, err, partial = t.n(3, sock:receive())
t.eq(d, nil, "data")
t.eq(err, "timeout", "err")
t.eq(partial, "ab", "partial")
sock:settimeout(5000)
t.eq(sock:receive(), "cd", "bytes after the timeout; partial was consumed")
t.raises("bad timeout value", sock.settimeout, sock, -1)
t.raises("expecting 4 arguments", sock.settimeouts, sock, 1, 2)
sock:settimeouts(1000, 1000, 0) -- 0 falls back to the default
t.done(sock)
