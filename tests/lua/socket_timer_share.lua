-- A timer given the downstream socket shares it like a light thread: it
-- runs on its own goroutine, and while it waits in a receive the handler's
-- own receive gets "socket busy reading".
--! sleep 100ms
--! send "x\ny\n"
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
local dogs = ngx.shared.dogs
t.eq(ngx.timer.at(0, function(premature, s)
    dogs:set("timer_line", (s:receive()))
end, sock), 1, "timer.at with the socket")
ngx.sleep(0.03) -- the timer now waits in its receive
local line, err = sock:receive()
t.eq(line, nil, "the handler cannot read while the timer does")
t.eq(err, "socket busy reading", "busy error")
for _ = 1, 100 do
    if dogs:get("timer_line") then
        break
    end
    ngx.sleep(0.01)
end
t.eq(dogs:get("timer_line"), "x", "the timer read the first line")
t.eq(sock:receive(), "y", "the handler reads on after it")
t.done(sock)
