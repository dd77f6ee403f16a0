-- ngx.say/ngx.print write to the connection; ngx.exit ends the handler at
-- once and the connection closes.
--! expect "a1nilnulltrue\nxy"
--! eof
local t = require "t"
local sock = assert(ngx.req.socket(true))
t.eq(ngx.say("a", 1, nil, ngx.null, true), 1, "say returns 1")
ngx.print({"x", {"y"}})
t.raises("array table expected, but got function", ngx.say, print)
ngx.exit(ngx.OK)
sock:send("never sent")
