-- A Redis-compatible server for a subset of the string commands, on a
-- shared dictionary. Any Redis client works for these commands: redis-cli,
-- redis-py, go-redis, lua-resty-redis.
--
--   streamlua serve --listen 127.0.0.1:6380 --dict redis=64m \
--       --package-path 'examples/redis/?.lua;;' --handler redis
--   redis-cli -p 6380 set greeting hello EX 60
--
-- Commands: PING, ECHO, GET, SET (EX, PX, NX, XX), DEL, INCR, EXPIRE, TTL,
-- MGET, COMMAND (an empty reply, for redis-cli) and QUIT. Requests come in
-- RESP (what clients send) or inline ("SET a b" typed into telnet).
--
-- Only OpenResty APIs are used, so the module also runs under
-- OpenResty's stream-lua: content_by_lua_block { require("redis").run() }.
--
-- How values are kept: the dictionary stores strings, except that a value
-- that is an integer written the canonical way ("10", "-3", not "010" or
-- "1e3") and small enough for a double (|n| < 2^53) is stored as a
-- number, so that INCR can use the dictionary's atomic incr; GET formats
-- it back to the same digits. Larger integers stay strings, and INCR on
-- them answers "value is not an integer or out of range" where Redis
-- (64-bit integers) would still count.

local ngx = ngx
local byte, sub, find, lower, format = string.byte, string.sub, string.find, string.lower, string.format
local tonumber, floor = tonumber, math.floor

local _M = {}

local DICT = "redis"
local MAX_INT = 2 ^ 53 - 1  -- integers up to this are exact in a double, and so is n + 1
local MAX_ARGS = 1024 * 1024 -- Redis's limit on a request's array length
local MAX_INLINE = 64 * 1024 -- Redis's limit on an inline request line

local OK = "+OK\r\n"
local NIL = "$-1\r\n"
local PONG = "+PONG\r\n"
local ERR_INT = "-ERR value is not an integer or out of range\r\n"
local ERR_SYNTAX = "-ERR syntax error\r\n"
local ERR_OOM = "-OOM command not allowed when used memory > 'maxmemory'.\r\n"

-- integer parses a whole decimal integer the way Redis's string2ll does
-- (no sign but "-", no leading zeros, no spaces), within a double's exact
-- range; it returns nil for anything else.
local function integer(s)
    local n = #s
    if n == 0 or n > 17 then
        return nil
    end
    local b = byte(s, 1)
    if b ~= 45 and (b < 48 or b > 57) then -- "-" or a digit
        return nil
    end
    if not find(s, "^%-?[1-9]%d*$") then
        if s == "0" then
            return 0
        end
        return nil
    end
    local v = tonumber(s)
    if v > MAX_INT or v < -MAX_INT then
        return nil
    end
    return v
end

local function bulk(v)
    if v == nil then
        return NIL
    end
    if type(v) == "number" then
        v = format("%d", v)
    end
    return { "$", #v, "\r\n", v, "\r\n" }
end

local function int(n)
    return { ":", format("%d", n), "\r\n" }
end

local function err(msg)
    return { "-ERR ", msg, "\r\n" }
end

-- store converts a value as described at the top of the file.
local function stored(v)
    return integer(v) or v
end

-- Each command takes the dictionary and the request's arguments (argv[1]
-- is the command name) and returns the reply: a string or a nested array
-- of strings for sock:send, or false to close the connection after the
-- replies so far.
local commands = {}

-- arity follows Redis: n means exactly n words including the command name,
-- -n at least n.
local function command(name, arity, fn)
    commands[name] = { arity = arity, fn = fn }
end

command("ping", -1, function(_, argv, argc)
    if argc == 1 then
        return PONG
    elseif argc == 2 then
        return bulk(argv[2])
    end
    return err("wrong number of arguments for 'ping' command")
end)

command("echo", 2, function(_, argv)
    return bulk(argv[2])
end)

command("quit", -1, function()
    return false
end)

-- COMMAND lets redis-cli's interactive mode start: it asks for command
-- documentation and copes with getting none.
command("command", -1, function()
    return "*0\r\n"
end)

command("get", 2, function(dict, argv)
    return bulk(dict:get(argv[2]))
end)

command("mget", -2, function(dict, argv, argc)
    local out = { "*", argc - 1, "\r\n" }
    for i = 2, argc do
        out[#out + 1] = bulk(dict:get(argv[i]))
    end
    return out
end)

-- SET key value [NX | XX] [EX seconds | PX milliseconds]
command("set", -3, function(dict, argv, argc)
    local nx, xx, ttl = false, false, nil
    local i = 4
    while i <= argc do
        local opt = lower(argv[i])
        if opt == "nx" and not xx then
            nx = true
        elseif opt == "xx" and not nx then
            xx = true
        elseif (opt == "ex" or opt == "px") and ttl == nil and i < argc then
            local n = integer(argv[i + 1])
            if n == nil then
                return ERR_INT
            end
            if n <= 0 then
                return err("invalid expire time in 'set' command")
            end
            ttl = opt == "ex" and n or n / 1000
            i = i + 1
        else
            return ERR_SYNTAX
        end
        i = i + 1
    end
    local key, value = argv[2], stored(argv[3])
    local ok, e
    if nx then
        ok, e = dict:add(key, value, ttl or 0)
    elseif xx then
        ok, e = dict:replace(key, value, ttl or 0)
    else
        ok, e = dict:set(key, value, ttl or 0)
    end
    if ok then
        return OK
    elseif e == "exists" or e == "not found" then
        return NIL -- the NX or XX condition did not hold
    end
    return ERR_OOM
end)

command("del", -2, function(dict, argv, argc)
    local n = 0
    for i = 2, argc do
        -- Two calls, not one atomic step: under concurrent DELs of one key
        -- both may count it. The dictionary has no delete-if-present.
        if dict:get(argv[i]) ~= nil then
            dict:delete(argv[i])
            n = n + 1
        end
    end
    return int(n)
end)

command("incr", 2, function(dict, argv)
    local key = argv[2]
    local n, e = dict:incr(key, 1, 0) -- a missing key starts at 0, with no expiry
    if n == nil then
        if e == "not a number" then
            return ERR_INT
        end
        return ERR_OOM
    end
    if n > MAX_INT then
        dict:incr(key, -1)
        return err("increment or decrement would overflow")
    end
    return int(n)
end)

command("expire", 3, function(dict, argv)
    local secs = integer(argv[3])
    if secs == nil then
        return ERR_INT
    end
    local key = argv[2]
    if secs <= 0 then
        -- Redis deletes the key at once; the dictionary would read an
        -- expiry of 0 as "never".
        if dict:get(key) == nil then
            return int(0)
        end
        dict:delete(key)
        return int(1)
    end
    if dict:expire(key, secs) then
        return int(1)
    end
    return int(0)
end)

command("ttl", 2, function(dict, argv)
    local key = argv[2]
    local t = dict:ttl(key)
    if t == nil then
        return int(-2) -- no such key
    elseif t <= 0 then
        -- 0 means no expiry, but ttl (as in OpenResty) also reports an
        -- expired item that is not yet reclaimed, with 0 or less left.
        if dict:get(key) == nil then
            return int(-2)
        end
        return int(-1)
    end
    return int(floor(t + 0.5)) -- rounded, as Redis rounds milliseconds
end)

-- read_request reads one request into argv and returns its word count, 0
-- for an empty line, or nil and a reason: "closed", "timeout" (nothing
-- read yet: the caller may wait again) or a protocol error to report.
local function read_request(sock, argv)
    local line, e = sock:receive()
    if not line then
        return nil, e
    end
    if byte(line, 1) ~= 42 then -- not "*": an inline request
        if #line > MAX_INLINE then
            return nil, "Protocol error: too big inline request"
        end
        local argc = 0
        for word in line:gmatch("%S+") do
            argc = argc + 1
            argv[argc] = word
        end
        return argc
    end
    local argc = tonumber(sub(line, 2))
    if argc == nil or argc > MAX_ARGS or argc ~= floor(argc) then
        return nil, "Protocol error: invalid multibulk length"
    end
    for i = 1, argc do
        local head
        head, e = sock:receive()
        if not head then
            return nil, e == "timeout" and "closed" or e
        end
        if byte(head, 1) ~= 36 then -- "$"
            return nil, "Protocol error: expected '$', got '" .. sub(head, 1, 1) .. "'"
        end
        local len = tonumber(sub(head, 2))
        if len == nil or len < 0 or len ~= floor(len) or len > _M.max_bulk then
            return nil, "Protocol error: invalid bulk length"
        end
        local data
        data, e = sock:receive(len)
        if not data then
            return nil, e == "timeout" and "closed" or e
        end
        local crlf
        crlf, e = sock:receive(2)
        if crlf ~= "\r\n" then
            return nil, crlf and "Protocol error: expected CRLF after bulk" or "closed"
        end
        argv[i] = data
    end
    return argc
end

-- max_bulk is the largest argument accepted: the server's --max-item-size,
-- or 1 MiB where that is unknown (under OpenResty).
_M.max_bulk = 1024 * 1024
do
    local ok, sl = pcall(require, "streamlua")
    if ok and sl.info and sl.info.MaxItemSize and sl.info.MaxItemSize > 0 then
        _M.max_bulk = sl.info.MaxItemSize
    end
end

-- run serves the current connection until the client quits or goes away.
function _M.run()
    local dict = ngx.shared[DICT]
    if not dict then
        error("redis example: no shared dictionary '" .. DICT .. "' (--dict " .. DICT .. "=64m)")
    end
    local sock = assert(ngx.req.socket(true))
    local argv = {}
    while true do
        local argc, e = read_request(sock, argv)
        if argc == nil then
            if e == "closed" then
                return
            elseif e ~= "timeout" then
                sock:send({ "-ERR ", e, "\r\n" })
                return
            end
        elseif argc > 0 then
            local name = lower(argv[1])
            local c = commands[name]
            local reply
            if c == nil then
                reply = err("unknown command '" .. argv[1] .. "'")
            elseif (c.arity > 0 and argc ~= c.arity) or argc < -c.arity then
                reply = err("wrong number of arguments for '" .. name .. "' command")
            else
                reply = c.fn(dict, argv, argc)
            end
            if reply == false then
                sock:send(OK)
                return
            end
            sock:send(reply)
        end
    end
end

-- commands is exposed so that a module of your own can add or replace
-- commands before calling run (see examples/README.md).
_M.commands = commands
_M.command = command
_M.bulk, _M.int, _M.err, _M.integer = bulk, int, err, integer

return _M
