package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Errors returned by Run and the parsers wrap one of these,
// so callers can tell a bad flag from a misbehaving server with errors.Is.
var (
	// ErrConfig reports a Config that cannot describe a bounded, valid run.
	ErrConfig = errors.New("loadgen: invalid configuration")
	// ErrProtocol reports a reply that the memcached protocol does not allow
	// as an answer to the request it belongs to.
	ErrProtocol = errors.New("loadgen: reply violates the protocol")
	// ErrMismatch reports a GET hit whose value differs from what the
	// generator stores; it is counted, not fatal, because the stream is
	// still in sync.
	ErrMismatch = errors.New("loadgen: value differs from the one stored")
	// ErrPrefill reports that the key space could not be stored before the
	// measured phase, which would make hit rates meaningless.
	ErrPrefill = errors.New("loadgen: prefill failed")
	// ErrDial reports that a connection could not be opened; a run needs
	// all of its connections, or its figures would describe another load.
	ErrDial = errors.New("loadgen: cannot connect")
)

// Protocol selects the memcached wire protocol the generator speaks.
type Protocol uint8

// The protocols Run can speak.
const (
	// Text is the ASCII protocol: "get k\r\n", "set k 0 0 n\r\n<data>\r\n".
	Text Protocol = iota
	// Binary is the binary protocol: 24-byte headers, opcodes 0x00 (GET)
	// and 0x01 (SET).
	Binary
)

// String returns the protocol's flag spelling.
func (p Protocol) String() string {
	switch p {
	case Text:
		return "text"
	case Binary:
		return "binary"
	}
	return "protocol(" + strconv.Itoa(int(p)) + ")"
}

// ParseProtocol reads a protocol name as given on the command line.
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToLower(s) {
	case "text", "ascii":
		return Text, nil
	case "binary", "bin":
		return Binary, nil
	}
	return 0, fmt.Errorf("%w: protocol %q (want text or binary)", ErrConfig, s)
}

// Ratio is the mix of requests as GET:SET. The generator walks a fixed
// cycle of Get+Set slots (Set SETs first, then Get GETs) instead of drawing
// at random, so that every run issues exactly the stated proportion.
type Ratio struct {
	Get, Set int
}

// maxRatioCycle bounds Get+Set so the cycle position cannot overflow and a
// typo like 90000000:1 is caught.
const maxRatioCycle = 1 << 20

// ParseRatio reads "GET:SET", for example "9:1". Either side may be 0, but
// not both.
func ParseRatio(s string) (Ratio, error) {
	g, st, ok := strings.Cut(s, ":")
	if !ok {
		return Ratio{}, fmt.Errorf("%w: ratio %q (want GET:SET, e.g. 9:1)", ErrConfig, s)
	}
	gv, err1 := strconv.Atoi(strings.TrimSpace(g))
	sv, err2 := strconv.Atoi(strings.TrimSpace(st))
	if err1 != nil || err2 != nil {
		return Ratio{}, fmt.Errorf("%w: ratio %q (want GET:SET, e.g. 9:1)", ErrConfig, s)
	}
	r := Ratio{Get: gv, Set: sv}
	if err := r.validate(); err != nil {
		return Ratio{}, err
	}
	return r, nil
}

// String returns the ratio as GET:SET.
func (r Ratio) String() string {
	return strconv.Itoa(r.Get) + ":" + strconv.Itoa(r.Set)
}

func (r Ratio) validate() error {
	if r.Get < 0 || r.Set < 0 || r.Get+r.Set == 0 || r.Get+r.Set > maxRatioCycle {
		return fmt.Errorf("%w: ratio %d:%d (both >= 0, sum 1..%d)", ErrConfig, r.Get, r.Set, maxRatioCycle)
	}
	return nil
}

// opAt returns the operation at position pos of the ratio's cycle: the
// first Set positions are SETs, the rest GETs.
func (r Ratio) opAt(pos int) op {
	if pos < r.Set {
		return opSet
	}
	return opGet
}

// Config describes one load run. DefaultConfig returns the workload of the
// performance anchors; zero values are not defaults (Run rejects them) so
// that a forgotten field shows up as an error, not as a silent change of
// workload.
type Config struct {
	// Addr is the server's host:port.
	Addr string
	// Protocol is the wire protocol to speak.
	Protocol Protocol
	// Conns is the number of connections, each driven by one goroutine.
	Conns int
	// Pipeline is the number of requests each connection keeps outstanding.
	Pipeline int
	// Ratio is the GET:SET mix of the measured phase.
	Ratio Ratio
	// Keys is the size of the key space; keys are drawn uniformly from it.
	Keys int
	// KeyPrefix is prepended to the decimal key index.
	KeyPrefix string
	// ValueSize is the length of every stored value in bytes.
	ValueSize int
	// Duration bounds the measured phase by time (0: no time bound).
	Duration time.Duration
	// Requests bounds the measured phase by the total number of requests
	// across all connections (0: no count bound). At least one of Duration
	// and Requests must be set.
	Requests int64
	// Prefill stores every key before the measured phase.
	Prefill bool
	// Verify checks that every GET hit returns exactly the value the
	// generator stores. Leave it off when the keys may hold other data.
	Verify bool
	// Timeout is how long a run may overrun its Duration while draining
	// (and, for a Requests-only run, its whole length). It also bounds
	// dialing and the prefill. It is what guarantees a run ends.
	Timeout time.Duration
	// Seed seeds the per-connection key generators, so runs are repeatable.
	Seed uint64
	// ServerPID, when not 0, names the server process whose CPU time is
	// sampled around the measured phase (Linux /proc only).
	ServerPID int
	// Dial opens a connection; nil means a net.Dialer. Tests use it to
	// shape how bytes arrive.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Limits that keep a run bounded in memory and keep keys legal.
const (
	// maxConns keeps the per-connection histograms (about 150 KiB each)
	// and buffers within reason.
	maxConns     = 1000
	maxPipeline  = 4096
	maxKeys      = 1 << 31
	maxValueSize = 1 << 20
	maxKeyLen    = 250
	// maxBuffered caps Conns × Pipeline × request size: the write buffers
	// of all connections together.
	maxBuffered = 1 << 30
)

// DefaultConfig returns the anchor workload: 50 connections, no pipelining,
// GET:SET 9:1 over 10,000 prefilled keys with 32-byte values, for 10 s.
func DefaultConfig() Config {
	return Config{
		Addr:      "127.0.0.1:11211",
		Protocol:  Text,
		Conns:     50,
		Pipeline:  1,
		Ratio:     Ratio{Get: 9, Set: 1},
		Keys:      10000,
		KeyPrefix: "key:",
		ValueSize: 32,
		Duration:  10 * time.Second,
		Prefill:   true,
		Verify:    true,
		Timeout:   10 * time.Second,
		Seed:      1,
	}
}

// Validate reports the first reason the Config cannot run, wrapping
// ErrConfig.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	switch {
	case c.Addr == "":
		return bad("empty server address")
	case c.Protocol != Text && c.Protocol != Binary:
		return bad("unknown protocol %d", c.Protocol)
	case c.Conns < 1 || c.Conns > maxConns:
		return bad("connections %d (want 1..%d)", c.Conns, maxConns)
	case c.Pipeline < 1 || c.Pipeline > maxPipeline:
		return bad("pipeline %d (want 1..%d)", c.Pipeline, maxPipeline)
	case c.Keys < 1 || c.Keys > maxKeys:
		return bad("keys %d (want 1..%d)", c.Keys, maxKeys)
	case c.ValueSize < 0 || c.ValueSize > maxValueSize:
		return bad("value size %d (want 0..%d)", c.ValueSize, maxValueSize)
	case c.Duration < 0:
		return bad("negative duration")
	case c.Requests < 0:
		return bad("negative request count")
	case c.Duration == 0 && c.Requests == 0:
		return bad("neither a duration nor a request count: the run would never end")
	case c.Timeout <= 0:
		return bad("timeout must be positive")
	case c.ServerPID < 0:
		return bad("negative server pid")
	}
	if int64(c.Conns)*int64(c.Pipeline)*int64(c.ValueSize+requestOverhead) > maxBuffered {
		return bad("%d connections × %d in flight × %d-byte values would buffer more than %d MiB", c.Conns, c.Pipeline, c.ValueSize, maxBuffered>>20)
	}
	if err := c.Ratio.validate(); err != nil {
		return err
	}
	if n := len(c.KeyPrefix) + len(strconv.Itoa(c.Keys-1)); n > maxKeyLen {
		return bad("keys would be %d bytes long (max %d)", n, maxKeyLen)
	}
	for i := 0; i < len(c.KeyPrefix); i++ {
		if b := c.KeyPrefix[i]; b <= ' ' || b == 0x7f {
			return bad("key prefix %q has a space or control byte", c.KeyPrefix)
		}
	}
	return nil
}
