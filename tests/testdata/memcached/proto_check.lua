-- proto_check: answers "<parser> <token>" lines with the parser's result,
-- for TestMemcachedProtoParsers. The token is everything after the first
-- space, so it may hold tabs and other bytes.
local proto = require "resty.memcached.proto"

local sock = ngx.req.socket(true)
local fns = {
    u32 = proto.parse_u32,
    i32 = proto.parse_i32,
    u64 = proto.parse_u64,
    b64 = proto.b64decode,
    ttl = function(t) return proto.ttl(tonumber(t), ngx.time()) end,
    cls = function(t) return proto.slab_class(tonumber(t)) end,
    num = function(t) return proto.NUM[t] end,
}
while true do
    local line = sock:receiveuntil("\n")()
    if not line then
        return
    end
    local sp = string.find(line, " ", 1, true)
    local fn = fns[string.sub(line, 1, sp - 1)]
    local v = fn(string.sub(line, sp + 1))
    sock:send(v == nil and "nil" or string.format("%s", v), "\n")
end
