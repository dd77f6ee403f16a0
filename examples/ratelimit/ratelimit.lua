-- A rate limiter service: fixed windows counted in a shared dictionary.
--
--   streamlua serve --listen 127.0.0.1:7002 --dict ratelimit=16m \
--       --content examples/ratelimit/ratelimit.lua
--
-- One request per line:
--
--   hit KEY LIMIT WINDOW   ->  allowed REMAINING   (this hit is within LIMIT)
--                          ->  denied RETRY_AFTER  (seconds until the window ends)
--   quit                   ->  bye, and the connection closes
--
-- KEY is any word (a user, an IP, "login:alice"), LIMIT a positive integer
-- and WINDOW the window's length in seconds (fractions allowed, down to a
-- millisecond). Anything else gets "error <reason>".
--
-- The first hit of a key creates its counter with incr's init_ttl, so the
-- window starts at that hit and the dictionary forgets the key when the
-- window ends; every hit is one atomic incr, so concurrent clients never
-- get more than LIMIT hits through per window. A full dictionary evicts the
-- least recently used counters, which lets their keys start afresh.
--
-- Counts are per streamlua process. Several processes need every hit for a
-- key to reach the same process: hash the key on the client side to pick
-- one (see examples/README.md).

local ngx = ngx
local find, sub, format = string.find, string.sub, string.format
local tonumber, floor = tonumber, math.floor

local dict = ngx.shared.ratelimit
if not dict then
    error("no shared dictionary 'ratelimit' (--dict ratelimit=16m)")
end

-- Outcome counters appear in stats and metrics
-- (streamlua_lua_counter{name="ratelimit_allowed"}) when running under
-- streamlua; under OpenResty they are skipped.
local allowed_count, denied_count
do
    local ok, sl = pcall(require, "streamlua")
    if ok then
        allowed_count, denied_count = sl.counter("ratelimit_allowed"), sl.counter("ratelimit_denied")
    end
end

local MAX_KEY = 250
local MAX_INT = 2 ^ 53

-- words splits a line on single spaces into at most 5 words, without Lua
-- patterns (which gopher-lua compiles on every call).
local function words(line, out)
    local n, pos = 0, 1
    while n < 5 do
        local s, e = find(line, " ", pos, true)
        local w = sub(line, pos, (s or 0) - 1)
        if w ~= "" then
            n = n + 1
            out[n] = w
        end
        if not s then
            break
        end
        pos = e + 1
    end
    return n
end

local function hit(key, limit, window)
    if #key > MAX_KEY then
        return "error key longer than 250 bytes\r\n"
    end
    limit = tonumber(limit)
    if not limit or limit < 1 or limit ~= floor(limit) or limit > MAX_INT then
        return "error LIMIT must be a positive integer\r\n"
    end
    window = tonumber(window)
    if not window or window < 0.001 or window ~= window or window == math.huge then
        return "error WINDOW must be a number of seconds, at least 0.001\r\n"
    end
    local n, err = dict:incr(key, 1, 0, window)
    if not n then
        -- "not a number": the key holds something else; "no memory": the
        -- dictionary could not make room. Either way, fail open or closed
        -- is the operator's call; this example fails closed.
        return "error " .. tostring(err) .. "\r\n"
    end
    if n <= limit then
        if allowed_count then allowed_count:add(1) end
        return format("allowed %d\r\n", limit - n)
    end
    if denied_count then denied_count:add(1) end
    local ttl = dict:ttl(key) or 0
    return format("denied %.3f\r\n", ttl)
end

local sock = assert(ngx.req.socket(true))
local w = {}
while true do
    local line, err = sock:receive()
    if not line then
        if err ~= "timeout" then
            return
        end
    else
        local n = words(line, w)
        local cmd = w[1]
        if n == 4 and cmd == "hit" then
            sock:send(hit(w[2], w[3], w[4]))
        elseif n == 1 and cmd == "quit" then
            sock:send("bye\r\n")
            return
        elseif n > 0 then
            sock:send("error usage: hit KEY LIMIT WINDOW\r\n")
        end
    end
end
