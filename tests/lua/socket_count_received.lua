-- count_received adds every byte read to a counter: those read before it
-- was turned on first, each once, and none after it is turned off.
--! send "abc\ndefgh\n"
--! expect "one\n"
--! send "0123456789"
--! expect "two\n"
--! send "xyz\n"
--! expect "ok\n"
local t = require "t"
local sl = require "streamlua"
local sock = assert(ngx.req.socket(true))
local c = sl.counter("t_count_received")
c:set(0)
t.eq(sock:receive(), "abc", "first line")
t.eq(sock:count_received(c), true, "turned on")
t.eq(c:get(), tonumber(ngx.var.bytes_received), "bytes read so far, buffered ones included")
t.eq(sock:count_received(c), true, "turned on again")
t.eq(sock:receive(), "defgh", "second line")
t.eq(c:get(), 10, "nothing counted twice")
sock:send("one\n")
t.eq(sock:receive(10), "0123456789", "next block")
t.eq(c:get(), 20, "later reads counted")
t.eq(sock:count_received(nil), true, "turned off")
t.raises("counter expected", sock.count_received, sock, "x")
sock:send("two\n")
t.eq(sock:receive(), "xyz", "after turning off")
t.eq(c:get(), 20, "not counted once off")
t.eq(tonumber(ngx.var.bytes_received), 24, "bytes_received still counts")
t.done(sock)
