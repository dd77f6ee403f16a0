-- sock:setidle (streamlua): with nothing buffered for the idle time,
-- receive_command, receiveany and peek return nil, "idle"; an entry that
-- returns ngx.AGAIN then gives its state back and runs again from the
-- start when input arrives, with a fresh ngx.ctx and every byte the client
-- sent in between. A partial line is never idle, and the other receive
-- calls never report it.
--! send "one\n"
--! expect "1 one\n"
--! sleep 250ms
--! send "two\nthr"
--! expect "2 two\n"
--! sleep 250ms
--! send "ee\n"
--! expect "2 three\n"
--! sleep 250ms
--! send "done\n"
--! sleep 250ms
--! send "abc"
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
t.eq(ngx.ctx.seen, nil, "ngx.ctx is fresh in every run")
ngx.ctx.seen = true
t.eq(sock:setidle(50), 1, "setidle")
local runs = ngx.shared.dogs:incr("setidle:" .. ngx.var.connection, 1, 0)
local tok = {}
while true do
    local n, err = sock:receive_command(tok)
    if not n then
        t.eq(err, "idle", "receive_command's error")
        return ngx.AGAIN
    end
    if tok[1] == "done" then
        break
    end
    sock:send(runs, " ", tok[1], "\n")
end
t.eq(runs, 3, "runs")
local d, err = sock:receiveany(10)
t.eq(d, nil, "receiveany data")
t.eq(err, "idle", "receiveany's error")
t.eq(sock:receive(3), "abc", "receive(n) waits through the idle time")
t.raises("must not be negative", sock.setidle, sock, -1)
t.eq(sock:setidle(0), 1, "setidle(0) turns it off")
t.done(sock)
