-- Writes every entry of the "kinds" dictionary, sorted by key, as
-- "key type value flags ttl-bucket" lines and closes. Lists are read with
-- llen and a non-destructive rotation (lpop then rpush).
local sock = assert(ngx.req.socket(true))
local d = ngx.shared.kinds
local keys = d:get_keys(0)
table.sort(keys)

-- The ttl is reported as a bucket so the output does not depend on how
-- long the restart took: never, or the hour it expires in.
local function bucket(ttl)
    if not ttl or ttl == 0 then
        return "never"
    end
    return "h" .. math.ceil(ttl / 3600)
end

for _, k in ipairs(keys) do
    local v, flags = d:get(k)
    local ttl = d:ttl(k)
    if v == nil then
        local n = d:llen(k)
        local parts = {}
        for i = 1, n do
            local e = d:lpop(k)
            parts[i] = type(e) .. ":" .. tostring(e)
            d:rpush(k, e)
        end
        sock:send(k, " list ", table.concat(parts, ","), " 0 ", bucket(ttl), "\n")
    else
        sock:send(k, " ", type(v), " ", ngx.encode_base64(tostring(v)), " ", flags or 0, " ", bucket(ttl), "\n")
    end
end
sock:send("end\n")
