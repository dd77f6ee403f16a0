// Package scripts holds the Lua code bundled into the streamlua binary.
//
// The files live under resty/ exactly as they would in an OpenResty
// lua_package_path, so `require "resty.memcached.server"` finds
// resty/memcached/server.lua. The luaenv package serves them through the
// ";;" (default) part of the package path; a user directory listed earlier
// in --package-path shadows any bundled module of the same name, which is how
// a user overrides a bundled file without rebuilding.
package scripts

import "embed"

// FS is the bundled module tree, rooted so that module "a.b" is file "a/b.lua".
//
//go:embed resty
var FS embed.FS
