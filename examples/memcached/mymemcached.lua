-- mymemcached: streamlua's bundled memcached server with two changes made
-- from outside the bundled files:
--
--   * a new command, "keys <prefix>", listing the live keys that start
--     with prefix (one "KEY <key>" line each, then END);
--   * "set" caps every item's lifetime at max_ttl seconds (3600 unless
--     started with --set mymemcached.max_ttl=N), including items stored
--     with exptime 0 ("never").
--
-- Run it with:
--
--   streamlua serve --package-path 'examples/memcached/?.lua;;' --handler mymemcached

local server = require "resty.memcached.server"
local sl = require "streamlua"

local sub, tostring, tonumber = string.sub, tostring, tonumber

local settings = sl.info.Settings
local MAX_TTL = tonumber(settings and settings["mymemcached.max_ttl"] or "") or 3600

-- A server of our own: registering commands on it leaves the bundled
-- server (which other handlers in the same Lua state may run) untouched.
local mc = server.new()

-- Wrap the bundled set: rewrite the exptime token, then hand over.
-- tok is "set <key> <flags> <exptime> <bytes> [noreply]"; a line with the
-- wrong number of tokens or a bad exptime goes through unchanged so that
-- the bundled handler answers it exactly as memcached would.
local builtin_set = mc:command("set")
mc:register("set", function(c, tok, n)
    if n == 5 or n == 6 then
        local exptime = server.parse_i32(tok[4])
        if exptime then
            -- ttl_of turns memcached's exptime (relative, or an absolute
            -- Unix time past 30 days) into seconds from now; 0 is never,
            -- a negative value means already expired.
            local ttl = server.ttl_of(exptime)
            if ttl == 0 or ttl > MAX_TTL then
                tok[4] = tostring(MAX_TTL)
            end
        end
    end
    return builtin_set(c, tok, n)
end)

-- keys <prefix>: a debugging aid. It walks every key in the dictionary,
-- so it costs time proportional to the cache size.
mc:register("keys", function(c, tok, n)
    local sock, send = c.sock, c.send
    if n > 2 then
        return send(sock, "ERROR\r\n")
    end
    local prefix = tok[2] or ""
    local plen = #prefix
    for _, key in ipairs(c.dict:get_keys(0)) do
        if plen == 0 or sub(key, 1, plen) == prefix then
            send(sock, "KEY ", key, "\r\n")
        end
    end
    return send(sock, "END\r\n")
end)

return {
    run = function()
        return mc:run()
    end,
}
