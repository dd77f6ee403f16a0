-- ngx.re with PCRE behaviour, and require "ngx.re".split.
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
local from, to = ngx.re.find("hello world", [[\S+]], "jo", {pos = 7})
t.eq(from, 7, "find from") t.eq(to, 11, "find to")
local m = ngx.re.match("key=val", [[(\w+)=(?<v>\w+)]])
t.eq(m[0], "key=val", "m[0]") t.eq(m[1], "key", "m[1]") t.eq(m.v, "val", "named")
local ctx = {pos = 1}
local parts = {}
while true do
    local f, l = ngx.re.find("get a b", [[\S+]], "jo", ctx)
    if not f then break end
    parts[#parts + 1] = f .. "-" .. l
end
t.eq(table.concat(parts, ","), "1-3,5-5,7-7", "ctx.pos loop")
t.eq(ngx.re.match("abab", [[(ab)\1]])[0], "abab", "backreference (PCRE fallback)")
t.eq(ngx.re.find("foobar", [[foo(?=bar)]]), 1, "lookahead")
local s, n = ngx.re.gsub("abc", "", "-")
t.eq(s, "-a-b-c-", "empty matches") t.eq(n, 4, "count")
local r, n2 = ngx.re.sub("hello", "l", "L")
t.eq(r, "heLlo", "sub")
t.eq(ngx.re.gsub("a1b2", [[\d]], "<$0>"), "a<1>b<2>", "template")
local split = require("ngx.re").split
local res = split("a,b,", ",")
t.eq(#res, 2, "trailing empty dropped")
res = split(",a", ",")
t.eq(res[1], "", "leading empty kept")
t.ok(ngx.re.find("a\vb", [[\s]]) == 2, "\\s matches \\v")
t.done(sock)
