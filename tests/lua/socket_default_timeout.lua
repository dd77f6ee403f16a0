-- The configured read timeout applies when the script sets none.
--! timeout 100ms
--! sleep 150ms
--! send "late\n"
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
local d, err = sock:receive()
t.eq(err, "timeout", "default timeout fires")
t.eq(sock:receive(), "late", "usable after the timeout")
t.done(sock)
