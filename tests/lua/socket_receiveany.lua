-- receiveany returns what is buffered, at most max bytes.
--! send "0123456789"
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
t.raises("bad max argument", sock.receiveany, sock, 0)
t.raises("expecting 2 arguments", sock.receiveany, sock)
local first = sock:receiveany(4)
t.eq(first, "0123", "capped at max")
local rest = ""
while #rest < 6 do
    rest = rest .. assert(sock:receiveany(100))
end
t.eq(rest, "456789", "the rest")
sock:settimeout(50)
local d, err, p = t.n(3, sock:receiveany(10))
t.eq(err, "timeout", "timeout")
t.eq(p, "", "third value is empty")
t.done(sock)
