-- ngx.timer.at/every, ngx.thread.spawn/wait/kill, ngx.semaphore. Timers and
-- threads run on their own state: upvalues arrive as copies, so results
-- travel through ngx.shared or return values.
--! expect "in thread\nafter spawn\nok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
local dogs = ngx.shared.dogs
local base = 10
t.eq(ngx.timer.at(0.01, function(premature, k, v)
    ngx.shared.dogs:set(k, v + base)
end, "timer_key", 5), 1, "timer.at")
ngx.sleep(0.2)
t.eq(dogs:get("timer_key"), 15, "timer ran with its arguments and upvalues")
t.raises("delay cannot be zero", ngx.timer.every, 0, function() end)
t.raises("Lua function expected", ngx.timer.at, 0, print)
local n = 0
ngx.timer.every(0.01, function(premature)
    n = n + 1
    dogs:set("every", n)
end)
ngx.sleep(0.2)
t.ok((dogs:get("every") or 0) >= 3, "every repeats, its upvalues persist between runs")
t.eq(n, 0, "the creator's upvalue is a different copy")
t.eq(type(ngx.timer.pending_count()), "number", "pending_count")
t.eq(type(ngx.timer.running_count()), "number", "running_count")

local th = ngx.thread.spawn(function(a, b)
    ngx.say("in thread")
    return a + b, "x"
end, 1, 2)
ngx.say("after spawn")
local ok, sum, x = ngx.thread.wait(th)
t.eq(ok, true, "wait ok") t.eq(sum, 3, "result") t.eq(x, "x", "second result")
local again, aerr = ngx.thread.wait(th)
t.eq(aerr, "already waited or killed", "wait twice")
local sleeper = ngx.thread.spawn(function() ngx.sleep(5) end)
t.eq(ngx.thread.kill(sleeper), true, "kill")
local bad = ngx.thread.spawn(function() error("thread boom") end)
local ok3, e3 = ngx.thread.wait(bad)
t.eq(ok3, false, "failed thread")
t.ok(string.find(e3, "thread boom", 1, true), "error text")

local sema = require("ngx.semaphore").new(0)
ngx.thread.spawn(function()
    ngx.sleep(0.02)
    sema:post(1)
end)
t.eq(sema:wait(2), true, "woken by post from a thread")
local ok4, e4 = sema:wait(0.01)
t.eq(e4, "timeout", "timeout")
t.eq(sema:count(), 0, "count")
t.eq(ngx.on_abort(function() end), nil, "on_abort is off")
t.done(sock)
