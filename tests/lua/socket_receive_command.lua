-- streamlua's line-protocol extensions: receive_command splits a line into
-- words in Go (memcached framing: one CR dropped, NUL ends the line),
-- receive_block reads a data block and its CRLF.
--! send "set  k 0 0 5 \r\nhello\r\nget a\x00junk\r\n\r\nxx\r"
--! send "\nverylongcommandword and more"
--! sleep 100ms
--! send "\r\nabcXY"
--! closewrite
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
local tok = {}
t.eq(sock:receive_command(tok), 5, "five words")
t.eq(tok[1], "set", "cmd") t.eq(tok[2], "k", "runs of spaces")
t.eq(tok[5], "5", "trailing space ignored")
t.eq(sock:receive_block(5), "hello", "data block")
t.eq(sock:receive_command(tok), 2, "NUL ends the line")
t.eq(tok[2], "a", "word before NUL") t.eq(tok[3], nil, "stale words cleared")
t.eq(sock:receive_command(tok), 0, "blank line")
t.eq(sock:receive_command(tok), 1, "a CR before LF is dropped")
t.eq(tok[1], "xx", "word")
local n, err, first = sock:receive_command(tok, 10)
t.eq(n, nil, "too long") t.eq(err, "line too long", "err") t.eq(first, "verylongcommandw", "first word, at most 16 bytes")
t.eq(sock:receive_command(tok, 1000), 3, "allowed with a larger max")
local d, e = sock:receive_block(1)
t.eq(e, "bad data chunk", "no CRLF after the block")
local d2, e2, p2 = sock:receive_command(tok)
t.eq(e2, "closed", "EOF")
t.done(sock)
