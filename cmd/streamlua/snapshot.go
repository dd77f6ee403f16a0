package main

// This file wires serve's durability and resource limits: --snapshot
// (dictionaries saved at shutdown and on SIGUSR1, loaded at start),
// --memory-limit (the Go runtime's soft memory limit) and --tls-cert /
// --tls-key (TLS on every listener).

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamlua/streamlua/shdict"
)

// memoryHeadroom is what the default memory limit allows beyond the
// dictionaries: Lua states (about 160 KiB each), connection buffers and
// the runtime itself.
const memoryHeadroom = 256 << 20

// defaultMemoryLimit is the limit used when neither --memory-limit nor
// GOMEMLIMIT says otherwise: the dictionary caps plus half again for what
// the collector needs to work without thrashing (garbage awaiting
// collection, copied values on their way to clients), plus a fixed
// headroom for everything that is not a dictionary.
func defaultMemoryLimit(dictCaps map[string]int64) int64 {
	sum := sumCaps(dictCaps)
	return sum + sum/2 + memoryHeadroom
}

// sumCaps is the memory all dictionaries may fill together.
func sumCaps(dictCaps map[string]int64) int64 {
	var sum int64
	for _, c := range dictCaps {
		sum += c
	}
	return sum
}

// applyMemoryLimit sets the runtime's soft memory limit. An explicit
// --memory-limit wins ("off" or 0 removes the limit); otherwise a
// GOMEMLIMIT in the environment (already applied by the runtime) is kept;
// otherwise the limit is derived from the dictionary caps. The limit is
// soft: the collector works harder as the heap nears it, which keeps a
// script that allocates without bound from pushing the process into swap
// or the OOM killer long before the dictionaries are full.
func applyMemoryLimit(cmd *cobra.Command, flag string, dictCaps map[string]int64, log *slog.Logger) error {
	limit, source := int64(0), ""
	switch {
	case cmd.Flags().Changed("memory-limit"):
		source = "--memory-limit"
		n, err := parseSizeOrOff("--memory-limit", flag)
		if err != nil {
			return err
		}
		limit = n
		if n == 0 {
			limit = math.MaxInt64
		}
	case os.Getenv("GOMEMLIMIT") != "":
		limit, source = debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	default:
		limit, source = defaultMemoryLimit(dictCaps), "dictionary caps x 1.5 + 256m"
	}
	debug.SetMemoryLimit(limit)
	if limit == math.MaxInt64 {
		log.Info("memory limit", "limit", "off", "source", source)
	} else {
		log.Info("memory limit", "limit", limit, "source", source)
	}
	return nil
}

// loadTLS builds the listeners' TLS configuration from a certificate and
// key in PEM files, or returns nil when neither is given.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key must be given together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %v", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// snapshotter owns the --snapshot file: it loads it at start, saves on
// SIGUSR1 while serving, and saves once more at shutdown.
type snapshotter struct {
	path  string
	dicts []*shdict.Dict
	log   *slog.Logger
	mu    sync.Mutex // one save at a time
	usr1  chan os.Signal
	done  chan struct{}
	wg    sync.WaitGroup
}

// openSnapshot loads path into dicts (a missing file is a first start)
// and starts listening for SIGUSR1. A corrupt or foreign file is an error:
// serve refuses to start rather than run with part of the data and then
// overwrite the file at shutdown. With an empty path nothing is loaded or
// saved, and SIGUSR1 is only logged: left to its default, that signal
// would kill the process. usr1 is already subscribed to SIGUSR1 (from
// before the listeners were bound).
func openSnapshot(path string, dicts []*shdict.Dict, usr1 chan os.Signal, log *slog.Logger) (*snapshotter, error) {
	s := &snapshotter{path: path, dicts: dicts, log: log}
	if path != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	s.usr1 = usr1
	s.done = make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-s.usr1:
				if s.path == "" {
					log.Warn("SIGUSR1 ignored: no --snapshot file configured")
					continue
				}
				s.save("SIGUSR1")
			case <-s.done:
				return
			}
		}
	}()
	return s, nil
}

// load reads the snapshot file into the dictionaries.
func (s *snapshotter) load() error {
	path, dicts, log := s.path, s.dicts, s.log
	start := time.Now()
	st, err := shdict.LoadSnapshot(path, dicts)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Info("no snapshot to load; starting empty", "snapshot", path)
	case err != nil:
		return fmt.Errorf("--snapshot: %v", err)
	default:
		log.Info("snapshot loaded", "snapshot", path, "dicts", st.Dicts, "scalars", st.Scalars, "lists", st.Lists,
			"expired", st.Expired, "bytes", st.Bytes, "took", time.Since(start).Round(time.Millisecond))
		if st.Evicted > 0 || st.Dropped > 0 {
			log.Warn("snapshot did not fit its dictionaries", "snapshot", path, "evicting", st.Evicted, "dropped", st.Dropped)
		}
	}
	return nil
}

// save writes the snapshot and logs the outcome.
func (s *snapshotter) save(trigger string) error {
	if s.path == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	st, err := shdict.SaveSnapshot(s.path, s.dicts)
	if err != nil {
		s.log.Error("snapshot failed; the previous file is unchanged", "trigger", trigger, "error", err.Error())
		return err
	}
	s.log.Info("snapshot written", "trigger", trigger, "snapshot", s.path, "scalars", st.Scalars, "lists", st.Lists,
		"bytes", st.Bytes, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// close stops listening for SIGUSR1 and writes the final snapshot; call it
// after the listeners have shut down, so that every acknowledged write is
// in it.
func (s *snapshotter) close() error {
	signal.Stop(s.usr1)
	close(s.done)
	s.wg.Wait()
	return s.save("shutdown")
}
