package main

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
)

// startProfiling serves net/http/pprof on $STREAMLUA_PPROF (for example
// 127.0.0.1:6060) when it is set: performance work starts with a profile
// of the real server under the real load, and an environment variable
// keeps this out of the flags users see.
func startProfiling(log *slog.Logger) {
	addr := os.Getenv("STREAMLUA_PPROF")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.ListenAndServe(addr, mux); err != nil {
			log.Error("pprof server failed", "addr", addr, "error", err)
		}
	}()
	log.Info("serving pprof", "addr", addr)
}
