-- Run by --init before any connection: seeds a shared dict.
ngx.shared.state:set("init", ngx.get_phase())
