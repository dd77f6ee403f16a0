-- The downstream socket has no close, setkeepalive or connect, and a second
-- ngx.req.socket() is a "duplicate call".
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
t.eq(sock.close, nil, "close")
t.eq(sock.setkeepalive, nil, "setkeepalive")
t.eq(sock.connect, nil, "connect")
local s2, err = ngx.req.socket(true)
t.eq(s2, nil, "second socket")
t.eq(err, "duplicate call", "error")
t.raises("expecting zero arguments", ngx.req.socket, true, 2)
t.done(sock)
