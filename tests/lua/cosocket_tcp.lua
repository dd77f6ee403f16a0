-- ngx.socket.tcp client cosockets: connect, send/receive, keepalive pool,
-- reuse counts, close, and OpenResty's error strings. The handler connects
-- back to its own server, where a connection that says "echo" is served
-- as an echo peer.
--! send "test\n"
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
if sock:receive() == "echo" then
    while true do
        local l = sock:receive()
        if not l then return end
        sock:send("echo:", l, "\n")
    end
end
local addr, port = ngx.var.server_addr, ngx.var.server_port
local c = ngx.socket.tcp()
local n, err = c:send("x")
t.eq(err, "closed", "send before connect")
n, err = c:receive()
t.eq(err, "closed", "receive before connect")
c:settimeout(2000)
t.eq(c:connect(addr, port), 1, "connect")
t.eq(c:getreusedtimes(), 0, "fresh connection")
c:send("echo\n")
c:send({"hi", "\n"})
t.eq(c:receive(), "echo:hi", "round trip")
t.eq(c:setkeepalive(10000, 4), 1, "setkeepalive")
n, err = c:send("x")
t.eq(err, "closed", "object is closed after setkeepalive")
local c2 = ngx.socket.tcp()
t.eq(c2:connect(addr, tonumber(port)), 1, "connect from the pool")
t.eq(c2:getreusedtimes(), 1, "reused once")
c2:send("again\n")
t.eq(c2:receive(), "echo:again", "pooled connection works")
t.eq(c2:close(), 1, "close")
local ok, cerr = c2:close()
t.eq(cerr, "closed", "second close")
local c3 = ngx.socket.tcp()
ok, err = c3:connect("127.0.0.1", 1)
t.eq(err, "connection refused", "refused")
ok, err = c3:connect("127.0.0.1", 70000)
t.eq(err, "bad port number: 70000", "bad port")
local c4 = assert(ngx.socket.connect(addr, port))
c4:send("echo\na\nb\n")
t.eq(c4:receive(), "echo:a", "first line")
ngx.sleep(0.05)
ok, err = c4:setkeepalive()
if ok == nil then
    t.eq(err, "unread data in buffer", "unread data")
end
local c5 = ngx.socket.tcp()
t.eq(c5:connect(addr, port, {pool = "custom"}), 1, "named pool")
c5:send("echo\nz\n")
local it = c5:receiveuntil("\n")
t.eq(it(), "echo:z", "receiveuntil on a cosocket")
t.done(sock)
