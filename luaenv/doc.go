// Package luaenv is streamlua's Lua world: it compiles scripts, builds
// pooled gopher-lua states carrying OpenResty's ngx API, and runs one Lua
// handler per TCP connection.
//
// How a connection flows:
//
//  1. A Server accepts the connection, enforces its connection cap and
//     starts a goroutine for it.
//  2. Env.Handle takes an LState from the pool (or builds one: libraries,
//     LuaJIT compatibility, ngx table) and binds the connection to it, so
//     that ngx.req.socket(true) returns a Socket over it.
//  3. The entry runs: require(module).run() or a content file's chunk. Both
//     come from the current Scripts generation, where every file is
//     compiled once to a FunctionProto shared by all states.
//  4. sock:receive reads through the Socket's buffer; sock:send appends to
//     its output buffer, which is written when the next read would block,
//     so pipelined requests are answered with one write. A busy
//     connection whose reads empty its socket waits on the read poller
//     (poller_linux.go) instead of first making a read that finds
//     nothing.
//  5. ngx.shared.NAME methods call straight into shdict.Dict, through
//     hand-written bindings (no reflection on the request path).
//  6. When the handler returns, errors or calls ngx.exit, output is flushed,
//     the connection is closed and the state is reset and pooled. A Lua
//     error is logged with the script's file:line; other connections are
//     unaffected. A handler that returns ngx.AGAIN after sock:setidle
//     reported "idle" instead gives its state and buffers back; the
//     connection waits on the netpoller alone and the entry runs again,
//     on any pooled state, when input arrives (idle.go).
//
// Reload builds a new Scripts generation and swaps it in only if every file
// compiles; states of the old generation are dropped as their connections
// end, and dictionaries are untouched.
//
// Deliberate differences from OpenResty are listed in the README; the main
// ones are that each connection has its own LState (module state is per
// pooled state, as per worker upstream), the socket object is userdata
// rather than a table, send buffers output until a read would block, and a
// handler that keeps calling receive on a closed socket is ended instead
// of spinning.
package luaenv
