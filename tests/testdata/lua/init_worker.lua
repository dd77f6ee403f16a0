-- Started by --init-worker: a repeating timer that counts its runs in a
-- shared dict, the usual init_worker_by_lua use.
local ok, err = ngx.timer.every(0.05, function(premature)
    if not premature then
        ngx.shared.state:incr("ticks", 1, 0)
    end
end)
assert(ok, err)
ngx.shared.state:set("phase", ngx.get_phase())
