-- odd_value: stores a value no memcached client can store (a boolean),
-- for TestBinaryHandlerError: answering a binary GET for it raises a Lua
-- error inside the handler.
ngx.shared.memcached:set("boolean", true)
