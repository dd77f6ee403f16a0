-- receiveuntil: whole reads, inclusive, chunked reads, overlapping prefixes.
--! send "first--sepsecond--sep"
--! send "hello, world! -agentzh\r\n--abcedhb"
--! send "abcabcabdTAIL"
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
local r = sock:receiveuntil("--sep")
t.eq(r(), "first", "first segment")
local inc = sock:receiveuntil("--sep", {inclusive = true})
t.eq(inc(), "second--sep", "inclusive")
local it = sock:receiveuntil("\r\n--abcedhb")
local got = {}
while true do
    local data, err, partial = it(4)
    if not data then
        t.eq(err, nil, "chunked end has no error")
        break
    end
    got[#got + 1] = data
end
t.eq(table.concat(got, "|"), "hell|o, w|orld|! -a|gent|zh", "chunks")
local kmp = sock:receiveuntil("abcabd")
t.eq(kmp(), "abc", "overlapping prefix")
t.eq(sock:receive(4), "TAIL", "buffer continues after the pattern")
local r2, err = sock:receiveuntil("")
t.eq(err, "pattern is empty", "empty pattern")
t.raises("bad \"inclusive\" option value type: string", sock.receiveuntil, sock, "x", {inclusive = "yes"})
t.done(sock)
