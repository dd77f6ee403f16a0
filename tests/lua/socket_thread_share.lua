-- A light thread shares its parent's socket: while it waits in a receive,
-- the parent's receive gets "socket busy reading" (one reader at a time,
-- as upstream); both may send, and their output keeps its order. The
-- thread runs on its own goroutine, so under -race this also checks that
-- the socket takes its locks once it is shared.
--! sleep 100ms
--! send "a\nb\n"
--! expect "from parent\nthread got a\nok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
local th = ngx.thread.spawn(function(s)
    local line = assert(s:receive())
    s:send("thread got ", line, "\n")
    return line
end, sock)
local line, err = sock:receive()
t.eq(line, nil, "the parent cannot read while the thread does")
t.eq(err, "socket busy reading", "busy error")
sock:send("from parent\n")
local ok, got = ngx.thread.wait(th)
t.eq(ok, true, "thread ok")
t.eq(got, "a", "the thread read the first line")
t.eq(sock:receive(), "b", "the parent reads on after it")
t.done(sock)
