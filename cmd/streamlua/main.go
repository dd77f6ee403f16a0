// Command streamlua is a TCP server that runs OpenResty-style stream Lua
// handlers, bundled with a memcached-compatible server script.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	cmd := newRootCmd()
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "streamlua: "+err.Error())
		code := 1
		if ec, ok := err.(interface{ ExitCode() int }); ok {
			code = ec.ExitCode()
		}
		os.Exit(code)
	}
}
