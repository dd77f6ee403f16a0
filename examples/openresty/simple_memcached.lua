-- A small memcached (get/set) written the way OpenResty stream handlers
-- usually are: ngx.re.find loops with a ctx table, receive("*l") and
-- receive(n), numbers parsed from the wire handed to ngx.shared as strings,
-- settimeout before each phase. It runs unchanged under OpenResty
-- (stream { lua_shared_dict memcached 10m; ... content_by_lua_block {
-- require("simple_memcached").run() } }) and under streamlua:
--
--   streamlua serve --listen 127.0.0.1:11213 --dict memcached=10m \
--       --package-path 'examples/openresty/?.lua;;' --handler simple_memcached
local new_tab = require "table.new"
local re_find = ngx.re.find
local sub = string.sub

local _M = {}

-- words splits a command line on runs of non-space characters.
local function words(line)
    local out = new_tab(6, 0)
    local ctx = { pos = 1 }
    while true do
        local from, to = re_find(line, [[\S+]], "jo", ctx)
        if not from then
            break
        end
        out[#out + 1] = sub(line, from, to)
    end
    return out
end

function _M.run()
    local sock = assert(ngx.req.socket(true))
    local dict = ngx.shared.memcached
    while true do
        sock:settimeout(60000) -- waiting for a command
        local line, err = sock:receive("*l")
        if not line then
            if err ~= "timeout" then
                return
            end
        else
            local w = words(line)
            local cmd = w[1]
            if cmd == "get" then
                for i = 2, #w do
                    local value, flags = dict:get(w[i])
                    if value then
                        sock:send({ "VALUE ", w[i], " ", flags or 0, " ", #value, "\r\n", value, "\r\n" })
                    end
                end
                sock:send("END\r\n")
            elseif cmd == "set" and #w == 5 then
                -- key, flags, exptime, bytes: all strings, as parsed
                local key, flags, exptime, bytes = w[2], w[3], w[4], w[5]
                sock:settimeout(1000) -- the data block follows at once
                local data = sock:receive(bytes + 2)
                if not data then
                    return
                end
                if sub(data, -2) ~= "\r\n" then
                    sock:send("CLIENT_ERROR bad data chunk\r\n")
                else
                    local ok, serr = dict:set(key, sub(data, 1, bytes), exptime, flags)
                    sock:send(ok and "STORED\r\n" or ("SERVER_ERROR " .. serr .. "\r\n"))
                end
            elseif cmd == "quit" then
                return
            else
                sock:send("ERROR\r\n")
            end
        end
    end
end

return _M
