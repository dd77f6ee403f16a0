-- EOF mid-line: nil, "closed", partial (three values, once); later calls
-- return two values. Bad patterns raise.
--! send "partial\r"
--! closewrite
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
t.raises("bad pattern argument", sock.receive, sock, "l")
t.raises("bad pattern argument", sock.receive, sock, "*x")
t.raises("bad pattern argument", sock.receive, sock, -1)
t.raises("expecting 1 or 2 arguments", sock.receive, sock, 1, 2)
local data, err, partial = t.n(3, sock:receive())
t.eq(data, nil, "data")
t.eq(err, "closed", "err")
t.eq(partial, "partial", "partial without CR")
data, err = t.n(2, sock:receive(10))
t.eq(err, "closed", "later receive")
t.eq(t.n(2, sock:receiveany(10)), nil, "receiveany after close")
t.ok(sock:send("ok\n"), "send still works after read EOF")
