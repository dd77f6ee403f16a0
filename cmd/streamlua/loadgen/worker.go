package loadgen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// requestOverhead bounds the bytes of a request beyond its value: the
// longest text SET line for a 250-byte key, or a binary header, extras and
// key.
const requestOverhead = 300

// Histogram geometry: microseconds from 1 µs to 100 s, 3 significant
// digits (0.1 % resolution). Longer latencies are recorded as 100 s; a run
// cannot last that long past its Timeout anyway.
const (
	histLowest  = 1
	histHighest = 100_000_000
	histDigits  = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// initialReadBuffer is each connection's first read buffer; it grows when a
// single reply does not fit.
const initialReadBuffer = 32 << 10

// counters are one connection's tallies; Run adds them up.
type counters struct {
	gets, sets, hits, misses                   int64
	errorReplies, badReplies, mismatches, lost int64
	prefilled, prefillErrors                   int64
}

func (c *counters) add(o *counters) {
	c.gets += o.gets
	c.sets += o.sets
	c.hits += o.hits
	c.misses += o.misses
	c.errorReplies += o.errorReplies
	c.badReplies += o.badReplies
	c.mismatches += o.mismatches
	c.lost += o.lost
	c.prefilled += o.prefilled
	c.prefillErrors += o.prefillErrors
}

// phase says what a pump call does and when it stops issuing.
type phase struct {
	prefill bool
	depth   int
	// budget is the number of requests still to issue; negative means
	// unbounded (then end must be set).
	budget int64
	// end is when to stop issuing, in nanoseconds since the worker's base;
	// 0 means no time bound.
	end int64
}

// worker drives one connection. It is used by one goroutine only.
type worker struct {
	id    int
	cfg   *Config
	conn  net.Conn
	base  time.Time
	value []byte // the payload every SET stores; shared, read-only

	win    window
	wbuf   []byte
	rbuf   []byte
	r, w   int // unparsed bytes are rbuf[r:w]
	need   int // length the reply at rbuf[r:] needs, when known
	readAt int64
	key    []byte // scratch for formatting a key

	rng     *rand.Rand
	cycle   int    // position in the GET:SET cycle
	nextKey int    // next key to prefill
	opaque  uint32 // tag of the last binary request

	hist *hdrhistogram.Histogram
	c    counters
	err  error // first error seen, for the report
}

func newWorker(id int, cfg *Config, conn net.Conn, base time.Time, value []byte) *worker {
	depth := cfg.Pipeline
	if pd := prefillDepth(cfg.ValueSize); cfg.Prefill && pd > depth {
		depth = pd
	}
	return &worker{
		id:      id,
		cfg:     cfg,
		conn:    conn,
		base:    base,
		value:   value,
		win:     newWindow(depth),
		wbuf:    make([]byte, 0, depth*(cfg.ValueSize+requestOverhead)),
		rbuf:    make([]byte, initialReadBuffer),
		key:     make([]byte, 0, maxKeyLen),
		rng:     rand.New(rand.NewPCG(cfg.Seed, uint64(id))),
		cycle:   id % (cfg.Ratio.Get + cfg.Ratio.Set),
		nextKey: id,
		hist:    newHistogram(),
	}
}

// prefillDepth is the window used while prefilling: deep enough to fill
// the key space quickly, shallow enough that large values do not make every
// connection buffer megabytes.
func prefillDepth(valueSize int) int {
	d := (256 << 10) / (valueSize + requestOverhead)
	return max(1, min(d, 16))
}

func (w *worker) now() int64 { return int64(time.Since(w.base)) }

// next picks the next request of the phase; ok is false when a prefill has
// stored its whole share.
func (w *worker) next(p *phase) (o op, key uint32, ok bool) {
	if p.prefill {
		if w.nextKey >= w.cfg.Keys {
			return 0, 0, false
		}
		k := w.nextKey
		w.nextKey += w.cfg.Conns
		return opSet, uint32(k), true
	}
	o = w.cfg.Ratio.opAt(w.cycle)
	w.cycle++
	if w.cycle == w.cfg.Ratio.Get+w.cfg.Ratio.Set {
		w.cycle = 0
	}
	return o, uint32(w.rng.IntN(w.cfg.Keys)), true
}

// appendKey formats key number k.
func appendKey(dst []byte, prefix string, k uint32) []byte {
	dst = append(dst, prefix...)
	return strconv.AppendUint(dst, uint64(k), 10)
}

// issue encodes one request into the write buffer and records it.
func (w *worker) issue(o op, k uint32, sent int64) {
	w.key = appendKey(w.key[:0], w.cfg.KeyPrefix, k)
	w.opaque++
	switch {
	case w.cfg.Protocol == Binary && o == opSet:
		w.wbuf = appendBinSet(w.wbuf, w.key, w.value, w.opaque)
	case w.cfg.Protocol == Binary:
		w.wbuf = appendBinGet(w.wbuf, w.key, w.opaque)
	case o == opSet:
		w.wbuf = appendTextSet(w.wbuf, w.key, w.value)
	default:
		w.wbuf = appendTextGet(w.wbuf, w.key)
	}
	w.win.push(slot{op: o, key: k, opaque: w.opaque, sent: sent})
}

// pump runs one phase: it keeps the window full until the phase stops
// issuing, then drains it. It returns the connection's I/O or protocol
// error; outstanding requests are then counted as lost by the caller.
func (w *worker) pump(p phase) error {
	depth := min(p.depth, len(w.win.slots))
	stopping := false
	for {
		now := w.now()
		if p.end > 0 && now >= p.end {
			stopping = true
		}
		for !stopping && w.win.n < depth {
			if p.budget == 0 {
				stopping = true
				break
			}
			o, k, ok := w.next(&p)
			if !ok {
				stopping = true
				break
			}
			w.issue(o, k, now)
			if p.budget > 0 {
				p.budget--
			}
		}
		if len(w.wbuf) > 0 {
			_, err := w.conn.Write(w.wbuf)
			w.wbuf = w.wbuf[:0]
			if err != nil {
				return err
			}
		}
		if w.win.n == 0 {
			if w.r < w.w {
				// Bytes already read that answer nothing.
				return w.unsolicited()
			}
			return nil
		}
		if err := w.receive(p.prefill); err != nil {
			return err
		}
	}
}

// receive reads until at least one reply is complete, and consumes every
// complete reply in the buffer.
func (w *worker) receive(prefill bool) error {
	for {
		progressed := false
		for w.r < w.w {
			s, ok := w.win.oldest()
			if !ok {
				return w.unsolicited()
			}
			var rep reply
			var err error
			if w.cfg.Protocol == Binary {
				rep, err = parseBinary(w.rbuf[w.r:w.w], s.op, s.opaque)
			} else {
				w.key = appendKey(w.key[:0], w.cfg.KeyPrefix, s.key)
				rep, err = parseText(w.rbuf[w.r:w.w], s.op, w.key)
			}
			if err != nil {
				w.c.badReplies++
				w.win.pop()
				return err
			}
			if rep.n == 0 {
				w.need = rep.need
				break
			}
			w.need = 0
			w.r += rep.n
			w.account(s, &rep, prefill)
			w.win.pop()
			progressed = true
		}
		if w.r == w.w {
			w.r, w.w = 0, 0
		}
		if progressed {
			return nil
		}
		w.makeRoom()
		n, err := w.conn.Read(w.rbuf[w.w:])
		w.readAt = w.now()
		w.w += n
		if n == 0 && err != nil {
			return err
		}
	}
}

// unsolicited reports bytes that arrived with no request outstanding.
func (w *worker) unsolicited() error {
	w.c.badReplies++
	return fmt.Errorf("%w: %d unsolicited bytes %q", ErrProtocol, w.w-w.r, clip(w.rbuf[w.r:w.w]))
}

// makeRoom makes sure a read can add bytes and that the pending reply, when
// its length is known, fits in the buffer. It allocates only when a reply
// is larger than any seen before on this connection.
func (w *worker) makeRoom() {
	if w.r > 0 && (w.w == len(w.rbuf) || w.need > len(w.rbuf)-w.r) {
		copy(w.rbuf, w.rbuf[w.r:w.w])
		w.w -= w.r
		w.r = 0
	}
	if w.need > len(w.rbuf) || w.w == len(w.rbuf) {
		size := max(2*len(w.rbuf), w.need)
		nb := make([]byte, size)
		copy(nb, w.rbuf[:w.w])
		w.rbuf = nb
	}
}

// account tallies one complete reply.
func (w *worker) account(s *slot, rep *reply, prefill bool) {
	if prefill {
		if rep.kind == replyStored {
			w.c.prefilled++
			return
		}
		w.c.prefillErrors++
		if w.err == nil {
			w.err = fmt.Errorf("loadgen: prefill of key %s%d answered %q", w.cfg.KeyPrefix, s.key, clip(rep.value))
		}
		return
	}
	lat := (w.readAt - s.sent) / int64(time.Microsecond)
	if lat > histHighest {
		lat = histHighest
	}
	_ = w.hist.RecordValue(max(lat, 0))
	if s.op == opSet {
		w.c.sets++
	} else {
		w.c.gets++
	}
	switch rep.kind {
	case replyHit:
		if w.cfg.Verify && !bytes.Equal(rep.value, w.value) {
			w.c.mismatches++
			if w.err == nil {
				w.err = fmt.Errorf("%w: key %s%d: %d bytes %q", ErrMismatch, w.cfg.KeyPrefix, s.key, len(rep.value), clip(rep.value))
			}
			return
		}
		w.c.hits++
	case replyMiss:
		w.c.misses++
	case replyError:
		w.c.errorReplies++
		if w.err == nil {
			w.err = fmt.Errorf("loadgen: %s of key %s%d answered %q", s.op, w.cfg.KeyPrefix, s.key, clip(rep.value))
		}
	}
}

// makeValue builds the payload every SET stores: printable, and not one
// repeated byte, so a server that shifts or truncates data is caught by
// Verify.
func makeValue(n int) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = 'a' + byte(i%26)
	}
	return v
}
