package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Run performs one load run and returns its figures. Errors that servers
// make (error replies, malformed replies, wrong values, lost requests) are
// counted in the Result, not returned: a benchmark of a faulty server still
// has figures worth reading. Run returns an error for a bad Config, when a
// connection cannot be opened or the prefill fails; when ctx ends early it
// returns the partial Result together with ctx's error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ServerPID != 0 {
		if _, err := procCPU(cfg.ServerPID); err != nil {
			return nil, fmt.Errorf("%w: server pid %d: %v", ErrConfig, cfg.ServerPID, err)
		}
	}
	dial := cfg.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: cfg.Timeout}
		dial = d.DialContext
	}
	base := time.Now()
	value := makeValue(cfg.ValueSize)
	workers := make([]*worker, 0, cfg.Conns)
	closeAll := func() {
		for _, w := range workers {
			w.conn.Close()
		}
	}
	dctx, cancelDial := context.WithTimeout(ctx, cfg.Timeout)
	for i := 0; i < cfg.Conns; i++ {
		c, err := dial(dctx, "tcp", cfg.Addr)
		if err != nil {
			cancelDial()
			closeAll()
			return nil, fmt.Errorf("%w: %s: connection %d of %d: %v", ErrDial, cfg.Addr, i+1, cfg.Conns, err)
		}
		workers = append(workers, newWorker(i, &cfg, c, base, value))
	}
	cancelDial()
	defer closeAll()

	// Cancellation and deadlines: one guard sets every connection's
	// deadline, so a cancelled context cannot be overridden by a phase
	// starting right after it.
	g := &deadlines{workers: workers}
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	go func() {
		select {
		case <-ctx.Done():
			g.cancel()
		case <-stopWatch:
		}
	}()

	var started, finished sync.WaitGroup
	start := make(chan struct{})
	var abort bool // written before close(start)
	var load phase // written before close(start)
	prefillErrs := make([]error, len(workers))
	started.Add(len(workers))
	finished.Add(len(workers))
	g.set(time.Now().Add(cfg.Timeout))
	for i, w := range workers {
		go func() {
			defer finished.Done()
			if cfg.Prefill {
				prefillErrs[i] = w.pump(phase{prefill: true, depth: prefillDepth(cfg.ValueSize), budget: -1})
			}
			started.Done()
			<-start
			if abort {
				return
			}
			p := load
			p.budget = share(cfg.Requests, len(workers), i)
			if err := w.pump(p); err != nil {
				w.c.lost += int64(w.win.n)
				if w.err == nil {
					w.err = err
				}
			}
		}()
	}
	started.Wait()

	if cfg.Prefill {
		var sum counters
		var first error
		for i, w := range workers {
			sum.add(&w.c)
			if first == nil && prefillErrs[i] != nil {
				first = prefillErrs[i]
			}
			if first == nil && w.err != nil {
				first = w.err
			}
		}
		if first != nil || sum.prefilled != int64(cfg.Keys) {
			abort = true
			close(start)
			finished.Wait()
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %d of %d keys stored: %v", ErrPrefill, sum.prefilled, cfg.Keys, first)
		}
	}

	// The measured phase starts now, for every connection at once.
	t0 := time.Now()
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	srv0, srvErr := time.Duration(0), error(nil)
	if cfg.ServerPID != 0 {
		srv0, srvErr = procCPU(cfg.ServerPID)
	}
	load = phase{depth: cfg.Pipeline, budget: -1}
	hard := t0.Add(cfg.Timeout)
	if cfg.Duration > 0 {
		load.end = int64(t0.Add(cfg.Duration).Sub(base))
		hard = hard.Add(cfg.Duration)
	}
	g.set(hard)
	close(start)
	finished.Wait()
	elapsed := time.Since(t0)
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)

	res := &Result{
		Addr:      cfg.Addr,
		Protocol:  cfg.Protocol.String(),
		Conns:     cfg.Conns,
		Pipeline:  cfg.Pipeline,
		Ratio:     cfg.Ratio.String(),
		Keys:      cfg.Keys,
		ValueSize: cfg.ValueSize,
		Seconds:   elapsed.Seconds(),
		hist:      newHistogram(),
	}
	var sum counters
	for _, w := range workers {
		sum.add(&w.c)
		// Same geometry on both sides: Merge cannot drop anything.
		res.hist.Merge(w.hist)
		if res.FirstError == "" && w.err != nil {
			res.FirstError = w.err.Error()
		}
	}
	res.fill(&sum)
	if ops := float64(res.Ops); ops > 0 {
		cpu := rusageCPU(&ru1) - rusageCPU(&ru0)
		res.ClientCPUPercent = 100 * cpu.Seconds() / elapsed.Seconds()
		res.ClientCPUPerOp = float64(cpu.Microseconds()) / ops
	}
	if cfg.ServerPID != 0 {
		srv1, err := procCPU(cfg.ServerPID)
		if srvErr == nil {
			srvErr = err
		}
		if srvErr != nil {
			if res.FirstError == "" {
				res.FirstError = "server cpu: " + srvErr.Error()
			}
		} else if res.Ops > 0 {
			cpu := srv1 - srv0
			res.ServerCPUPercent = 100 * cpu.Seconds() / elapsed.Seconds()
			res.ServerCPUPerOp = float64(cpu.Microseconds()) / float64(res.Ops)
		}
	}
	return res, ctx.Err()
}

// share is connection i's part of a total request budget; -1 when the run
// has no count bound.
func share(total int64, conns, i int) int64 {
	if total == 0 {
		return -1
	}
	n := total / int64(conns)
	if int64(i) < total%int64(conns) {
		n++
	}
	return n
}

// deadlines sets every connection's deadline under one lock, so that a
// cancellation wins over any later phase deadline.
type deadlines struct {
	mu        sync.Mutex
	workers   []*worker
	cancelled bool
}

func (d *deadlines) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancelled {
		return
	}
	for _, w := range d.workers {
		_ = w.conn.SetDeadline(t)
	}
}

func (d *deadlines) cancel() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cancelled = true
	past := time.Unix(1, 0)
	for _, w := range d.workers {
		_ = w.conn.SetDeadline(past)
	}
}

// userHZ is the unit of /proc/PID/stat's utime and stime. The kernel fixes
// it at 100 for user space on every architecture Go supports on Linux
// (CLK_TCK), whatever the kernel's internal HZ.
const userHZ = 100

// errProcStat reports a /proc/PID/stat line this package cannot read.
var errProcStat = errors.New("unexpected /proc stat format")

// procCPU returns the user+system CPU time a process has used, all threads
// included.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

// parseProcStat reads utime and stime (fields 14 and 15) from a
// /proc/PID/stat line. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseProcStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errProcStat
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, errProcStat
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 63)
	st, err2 := strconv.ParseUint(f[12], 10, 63)
	if err1 != nil || err2 != nil {
		return 0, errProcStat
	}
	return time.Duration(ut+st) * (time.Second / userHZ), nil
}

func rusageCPU(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
