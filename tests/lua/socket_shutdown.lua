-- shutdown("send") flushes, half-closes, and a second call reports it.
--! expect "bye\n"
--! eof
local t = require "t"
local sock = assert(ngx.req.socket(true))
sock:send("bye\n")
t.raises("bad shutdown argument: recv", sock.shutdown, sock, "recv")
t.eq(sock:shutdown("send"), 1, "shutdown")
local ok, err = sock:shutdown("send")
t.eq(err, "already shutdown", "second shutdown")
local n, err2 = sock:send("more")
t.eq(err2, "closed", "send after shutdown")
local okp, errp = ngx.print("x")
t.eq(errp, "seen eof", "ngx.print after shutdown")
