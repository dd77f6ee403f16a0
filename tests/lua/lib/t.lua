-- Assertion helpers for the Lua suite. Each failure raises an error whose
-- message names the caller's line, so the Go runner can show it.
local t = {}

local function show(v)
    if type(v) == "string" then
        return string.format("%q", v)
    end
    return tostring(v)
end

function t.eq(got, want, what)
    if got ~= want then
        error((what or "value") .. ": want " .. show(want) .. ", got " .. show(got), 2)
    end
end

function t.ok(cond, what)
    if not cond then
        error((what or "condition") .. " is false", 2)
    end
end

-- t.n checks the number of values a call returned.
function t.n(want, ...)
    local got = select("#", ...)
    if got ~= want then
        error("want " .. want .. " return values, got " .. got, 2)
    end
    return ...
end

-- t.raises checks that fn raises an error containing pattern (plain text).
function t.raises(pattern, fn, ...)
    local ok, err = pcall(fn, ...)
    if ok then
        error("expected an error containing " .. show(pattern), 2)
    end
    if not string.find(tostring(err), pattern, 1, true) then
        error("error " .. show(tostring(err)) .. " does not contain " .. show(pattern), 2)
    end
end

-- t.done sends the final "ok" line the runner expects.
function t.done(sock)
    sock = sock or ngx.req.socket(true)
    sock:send("ok\n")
end

return t
