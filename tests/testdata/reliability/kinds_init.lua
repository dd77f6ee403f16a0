-- Seeds the "kinds" dictionary with one entry of every kind the store
-- knows, unless a snapshot already brought them back. The snapshot test
-- runs it, restarts the server, and reads the entries with kinds_dump.lua.
local d = ngx.shared.kinds
if d:get("seeded") then
    return
end
d:set("str", "a\0b\r\nc", 0, 7)
d:set("num", 3.25, 3600, 1)
d:set("yes", true)
d:set("no", false, 0, 4294967295)
d:rpush("list", "x")
d:rpush("list", 2)
d:rpush("list", "")
d:expire("list", 7200)
d:set("seeded", 1)
