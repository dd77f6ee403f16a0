package main

// This file paces the garbage collector against the memory the operator
// budgeted for the dictionaries (--gc-floor).
//
// Why: with GOGC=100 the collector runs whenever the heap doubles what was
// live after the last cycle. A memcached that has just started, or whose
// keys are few and small, has a small live heap (mostly the connections'
// Lua states), so it collects several times a second under load even
// though its dictionaries are allowed to grow to many times that size.
// Each cycle takes a quarter of the processor for tens of milliseconds,
// which is where the 99th percentile went at 16 requests in flight
// (tests/bench/NOTES.md). Letting garbage build up to the dictionary caps
// first spends no memory the process was not already allowed to fill, and
// once the dictionaries hold that much the pacer is back to GOGC=100.

import (
	"log/slog"
	"os"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"

	"github.com/spf13/cobra"
)

const (
	// gcPaceEvery is how often the pacer looks at the live heap. The heap
	// cannot outgrow the memory limit in between: the limit makes the
	// collector run whatever GOGC says.
	gcPaceEvery = 500 * time.Millisecond
	// maxGCPercent bounds GOGC when the live heap is tiny next to the
	// floor, so that one reading taken just after start-up cannot let a
	// burst of garbage run far past the floor before the next reading.
	maxGCPercent = 2000
	// minGCPercent is Go's default, which the pacer never goes below.
	minGCPercent   = 100
	liveHeapMetric = "/gc/heap/live:bytes"
)

// gcPercentFor is the GOGC that puts the next collection at about floor
// bytes of heap, given live bytes marked by the last one; never less than
// Go's default and never more than maxGCPercent.
func gcPercentFor(live, floor int64) int {
	if floor <= 0 || live >= floor/2 {
		return minGCPercent
	}
	if live < 1<<20 {
		live = 1 << 20 // the runtime's own minimum heap is about 4 MiB
	}
	p := (floor - live) * 100 / live
	return int(max(minGCPercent, min(p, maxGCPercent)))
}

// gcFloor resolves --gc-floor: an explicit flag wins ("off" or 0
// disables pacing); otherwise a GOGC in the environment is the operator's
// choice and pacing is off; otherwise the floor is the dictionary caps.
func gcFloor(cmd *cobra.Command, flag string, dictCaps map[string]int64) (floor int64, source string, err error) {
	switch {
	case cmd.Flags().Changed("gc-floor") || flag != "":
		floor, err = parseSizeOrOff("--gc-floor", flag)
		return floor, "--gc-floor", err
	case os.Getenv("GOGC") != "":
		return 0, "GOGC", nil
	}
	return sumCaps(dictCaps), "dictionary caps", nil
}

// gcPacer adjusts GOGC every gcPaceEvery until stopped.
type gcPacer struct {
	floor   int64
	setGC   func(int) int // debug.SetGCPercent; replaced in tests
	live    func() int64
	current int
	stop    chan struct{}
	done    chan struct{}
}

// startGCPacer starts pacing against floor, or returns nil when floor is
// 0 (pacing off). Either way it logs the floor and where it came from.
func startGCPacer(floor int64, source string, log *slog.Logger) *gcPacer {
	if floor <= 0 {
		log.Info("gc pacing", "floor", "off", "source", source)
		return nil
	}
	sample := []rtmetrics.Sample{{Name: liveHeapMetric}}
	p := &gcPacer{
		floor: floor,
		setGC: debug.SetGCPercent,
		live: func() int64 {
			rtmetrics.Read(sample)
			if sample[0].Value.Kind() != rtmetrics.KindUint64 {
				return 0
			}
			return int64(sample[0].Value.Uint64())
		},
		current: minGCPercent,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	p.step()
	go p.run()
	log.Info("gc pacing", "floor", floor, "source", source, "gogc", p.current)
	return p
}

// step sets GOGC for the live heap now, touching the runtime only when
// the value moves by more than a tenth (setting it is cheap, but not free).
func (p *gcPacer) step() {
	want := gcPercentFor(p.live(), p.floor)
	if want == p.current {
		return
	}
	if d := want - p.current; 10*max(d, -d) > p.current || want == minGCPercent {
		p.setGC(want)
		p.current = want
	}
}

func (p *gcPacer) run() {
	defer close(p.done)
	t := time.NewTicker(gcPaceEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.step()
		}
	}
}

// close stops the pacer and gives GOGC back its default.
func (p *gcPacer) close() {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.setGC(minGCPercent)
}
