package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/streamlua/streamlua/cmd/streamlua/loadgen"
)

func newBenchCmd() *cobra.Command {
	cfg := loadgen.DefaultConfig()
	var proto, ratio string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a memcached server (streamlua or the real one) and report ops/s and latency percentiles",
		Long: `Drive a memcached server with GET and SET requests over several connections,
keeping --pipeline requests outstanding on each, and report throughput, hits,
errors and HDR latency percentiles. The defaults are the performance anchors'
workload: 50 connections, get:set 9:1, 10,000 prefilled keys, 32-byte values.

Every reply is checked against the protocol; error replies, malformed replies,
wrong values and lost requests are counted and make the exit status 1.
--server-pid samples that process's CPU time around the measured phase.`,
		Example: `  streamlua bench --server 127.0.0.1:11211 --duration 10s
  streamlua bench -P 16 --json
  streamlua bench --protocol binary --requests 100000 -c 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if cfg.Protocol, err = loadgen.ParseProtocol(proto); err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			if cfg.Ratio, err = loadgen.ParseRatio(ratio); err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			if err := cfg.Validate(); err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, runErr := loadgen.Run(ctx, cfg)
			if res == nil {
				return runErr
			}
			out := cmd.OutOrStdout()
			if asJSON {
				err = res.WriteJSON(out)
			} else {
				err = res.WriteTable(out)
			}
			switch {
			case err != nil:
				return err
			case errors.Is(runErr, context.Canceled):
				return &exitError{code: 130, msg: "interrupted; the figures above are partial"}
			case runErr != nil:
				return runErr
			case res.Errors > 0:
				return &exitError{code: 1, msg: fmt.Sprintf("%d errors; first: %s", res.Errors, res.FirstError)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Addr, "server", "s", cfg.Addr, "server address host:port")
	f.StringVar(&proto, "protocol", "text", "wire protocol: text or binary")
	f.IntVarP(&cfg.Conns, "conns", "c", cfg.Conns, "number of connections")
	f.IntVarP(&cfg.Pipeline, "pipeline", "P", cfg.Pipeline, "requests kept in flight per connection")
	f.StringVar(&ratio, "ratio", cfg.Ratio.String(), "GET:SET mix (note: memtier's --ratio is SET:GET)")
	f.IntVar(&cfg.Keys, "keys", cfg.Keys, "size of the key space")
	f.StringVar(&cfg.KeyPrefix, "key-prefix", cfg.KeyPrefix, "prefix of every key")
	f.IntVarP(&cfg.ValueSize, "data-size", "d", cfg.ValueSize, "value size in bytes")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of the measured phase (0: bounded by --requests only)")
	f.Int64VarP(&cfg.Requests, "requests", "n", 0, "total requests across connections (0: bounded by --duration only)")
	f.BoolVar(&cfg.Prefill, "prefill", cfg.Prefill, "store every key before measuring")
	f.BoolVar(&cfg.Verify, "verify", cfg.Verify, "check that GET hits return the stored value (turn off when keys hold other data)")
	f.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "how long dialing, the prefill and the final drain may take")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the key choice")
	f.IntVar(&cfg.ServerPID, "server-pid", 0, "sample this process's CPU time (Linux /proc) around the measured phase")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
