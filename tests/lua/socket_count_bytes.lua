-- count_received adds every byte read to a counter: those read before it
-- was turned on first, each once, and none after it is turned off.
-- count_sent does the same for bytes written (when they are written).
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
local w = sl.counter("t_count_sent")
c:set(0) w:set(0)
t.eq(sock:receive(), "abc", "first line")
t.eq(sock:count_received(c), true, "turned on")
t.eq(c:get(), tonumber(ngx.var.bytes_received), "bytes read so far, buffered ones included")
t.eq(sock:count_received(c), true, "turned on again")
t.eq(sock:receive(), "defgh", "second line")
t.eq(c:get(), 10, "nothing counted twice")
sock:send("one\n")
t.eq(sock:count_sent(w), true, "count_sent on")
t.eq(w:get(), 0, "nothing written yet: send only buffers")
t.eq(sock:receive(10), "0123456789", "next block")
t.eq(c:get(), 20, "later reads counted")
t.eq(sock:count_received(nil), true, "turned off")
t.raises("counter expected", sock.count_received, sock, "x")
t.eq(w:get(), 4, "\"one\\n\" counted once written")
t.raises("counter expected", sock.count_sent, sock, {})
sock:send("two\n")
t.eq(sock:receive(), "xyz", "after turning off")
t.eq(c:get(), 20, "not counted once off")
t.eq(tonumber(ngx.var.bytes_received), 24, "bytes_received still counts")
t.eq(w:get(), 8, "\"two\\n\" counted")
t.done(sock)
