package tests

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// The binary differential test sends one battery of binary protocol
// request sequences (binary_battery_test.go) to the real memcached and to
// streamlua's bundled server, each sequence on a fresh connection to each,
// and requires the same replies, packet for packet, once cas values, the
// version string and stats contents are normalised. Every sequence runs
// twice: written whole, and cut at seeded random byte boundaries so that
// the server sees headers, keys and values split across reads.

// Binary protocol opcodes (memcached's protocol_binary.h).
const (
	opGet        = 0x00
	opSet        = 0x01
	opAdd        = 0x02
	opReplace    = 0x03
	opDelete     = 0x04
	opIncrement  = 0x05
	opDecrement  = 0x06
	opQuit       = 0x07
	opFlush      = 0x08
	opGetQ       = 0x09
	opNoop       = 0x0a
	opVersion    = 0x0b
	opGetK       = 0x0c
	opGetKQ      = 0x0d
	opAppend     = 0x0e
	opPrepend    = 0x0f
	opStat       = 0x10
	opSetQ       = 0x11
	opAddQ       = 0x12
	opReplaceQ   = 0x13
	opDeleteQ    = 0x14
	opIncrementQ = 0x15
	opDecrementQ = 0x16
	opQuitQ      = 0x17
	opFlushQ     = 0x18
	opAppendQ    = 0x19
	opPrependQ   = 0x1a
	opVerbosity  = 0x1b
	opTouch      = 0x1c
	opGAT        = 0x1d
	opGATQ       = 0x1e
	opSASLList   = 0x20
	opSASLAuth   = 0x21
	opSASLStep   = 0x22
	opGATK       = 0x23
	opGATKQ      = 0x24
)

// binReq is one request of a sequence. The header's lengths follow the
// body unless a fix overrides them; raw bytes are sent as they are.
type binReq struct {
	op                 byte
	key, extras, value string
	opaque             uint32
	cas                uint64
	useCAS             bool   // send the last cas this server reported, plus casAdd
	casAdd             uint64 // added to that cas (to make it wrong)
	fix                *binFix
	raw                string
}

// binFix overrides header fields to make a request malformed.
type binFix struct {
	magic              byte
	keyLen, extLen     int // -1: from the body
	bodyLen            int64
	dataType           byte
	vbucket            uint16
	setBodyLen, setMag bool
}

func (r binReq) withFix(f func(*binFix)) binReq {
	nf := binFix{keyLen: -1, extLen: -1}
	if r.fix != nil {
		nf = *r.fix
	}
	f(&nf)
	r.fix = &nf
	return r
}

// lens overrides the header's key, extras and body lengths (-1 keeps the
// body's own).
func (r binReq) lens(klen, elen int, blen int64) binReq {
	return r.withFix(func(f *binFix) {
		f.keyLen, f.extLen = klen, elen
		if blen >= 0 {
			f.bodyLen, f.setBodyLen = blen, true
		}
	})
}

// magic overrides the header's first byte.
func (r binReq) magic(m byte) binReq {
	return r.withFix(func(f *binFix) { f.magic, f.setMag = m, true })
}

// types sets the data type and vbucket fields, which memcached ignores.
func (r binReq) types(dt byte, vb uint16) binReq {
	return r.withFix(func(f *binFix) { f.dataType, f.vbucket = dt, vb })
}

// withCAS sets the header's cas.
func (r binReq) withCAS(cas uint64) binReq { r.cas = cas; return r }

// lastCAS sends the last cas the server reported, plus add.
func (r binReq) lastCAS(add uint64) binReq { r.useCAS, r.casAdd = true, add; return r }

// opq sets the opaque.
func (r binReq) opq(n uint32) binReq { r.opaque = n; return r }

// binCase is one sequence: steps are written one after another, each
// answered before the next (a NOOP sentinel marks the end of a step's
// replies), except that the last step of a closing case is read to EOF
// and the last step of a hanging case until the server has been quiet
// for a while.
type binCase struct {
	name   string
	steps  [][]binReq
	closes bool
	hangs  bool
}

const (
	binSentinelOpaque = 0xfeedface
	binQuiet          = 150 * time.Millisecond
	binReadLimit      = 10 * time.Second
)

func (r binReq) encode(lastCAS uint64) []byte {
	if r.raw != "" {
		return []byte(r.raw)
	}
	h := make([]byte, 24, 24+len(r.extras)+len(r.key)+len(r.value))
	h[0] = 0x80
	h[1] = r.op
	klen, elen := len(r.key), len(r.extras)
	blen := int64(len(r.extras) + len(r.key) + len(r.value))
	var dt byte
	var vb uint16
	if f := r.fix; f != nil {
		if f.setMag {
			h[0] = f.magic
		}
		if f.keyLen >= 0 {
			klen = f.keyLen
		}
		if f.extLen >= 0 {
			elen = f.extLen
		}
		if f.setBodyLen {
			blen = f.bodyLen
		}
		dt, vb = f.dataType, f.vbucket
	}
	binary.BigEndian.PutUint16(h[2:], uint16(klen))
	h[4] = byte(elen)
	h[5] = dt
	binary.BigEndian.PutUint16(h[6:], vb)
	binary.BigEndian.PutUint32(h[8:], uint32(blen))
	binary.BigEndian.PutUint32(h[12:], r.opaque)
	cas := r.cas
	if r.useCAS {
		cas = lastCAS + r.casAdd
	}
	binary.BigEndian.PutUint64(h[16:], cas)
	h = append(h, r.extras...)
	h = append(h, r.key...)
	return append(h, r.value...)
}

// binPacket is one response as read from the wire.
type binPacket struct {
	magic, op, extLen, dataType byte
	keyLen                      uint16
	status                      uint16
	bodyLen, opaque             uint32
	cas                         uint64
	extras, key, value          []byte
}

// parseBinPackets splits b into complete response packets and returns the
// bytes after the last complete one.
func parseBinPackets(b []byte) ([]binPacket, []byte) {
	var out []binPacket
	for len(b) >= 24 {
		p := binPacket{
			magic:    b[0],
			op:       b[1],
			keyLen:   binary.BigEndian.Uint16(b[2:]),
			extLen:   b[4],
			dataType: b[5],
			status:   binary.BigEndian.Uint16(b[6:]),
			bodyLen:  binary.BigEndian.Uint32(b[8:]),
			opaque:   binary.BigEndian.Uint32(b[12:]),
			cas:      binary.BigEndian.Uint64(b[16:]),
		}
		if uint64(len(b)-24) < uint64(p.bodyLen) {
			break
		}
		body := b[24 : 24+int(p.bodyLen)]
		e, k := int(p.extLen), int(p.keyLen)
		if e+k <= len(body) {
			p.extras, p.key, p.value = body[:e], body[e:e+k], body[e+k:]
		} else {
			p.value = body
		}
		out = append(out, p)
		b = b[24+int(p.bodyLen):]
	}
	return out, b
}

// binRun plays one case against addr and returns the packets received,
// any trailing partial bytes, and whether the connection ended.
func binRun(addr string, c binCase, cut bool, seed uint64) ([]binPacket, []byte, bool, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, false, err
	}
	defer conn.Close()
	rng := rand.New(rand.NewPCG(seed, 11))
	sentinel := binReq{op: opNoop, opaque: binSentinelOpaque}.encode(0)
	// Every case starts from an empty cache; FLUSHQ answers nothing.
	if _, err := conn.Write(binReq{op: opFlushQ}.encode(0)); err != nil {
		return nil, nil, false, err
	}
	var all []binPacket
	var lastCAS uint64
	var rest []byte
	closed := false
	for i, step := range c.steps {
		last := i == len(c.steps)-1
		var req []byte
		for _, r := range step {
			req = append(req, r.encode(lastCAS)...)
		}
		useSentinel := !(last && (c.closes || c.hangs))
		if useSentinel {
			req = append(req, sentinel...)
		}
		if err := binWrite(conn, req, cut, rng); err != nil {
			closed = true
			break
		}
		got, tail, eof := binRead(conn, useSentinel)
		for _, p := range got {
			if p.cas != 0 {
				lastCAS = p.cas
			}
		}
		all = append(all, got...)
		rest = tail
		if eof {
			closed = true
			break
		}
	}
	return all, rest, closed, nil
}

// binWrite writes b whole, or in pieces split at random points with a
// short pause between them so that the server sees separate reads.
func binWrite(conn net.Conn, b []byte, cut bool, rng *rand.Rand) error {
	if !cut || len(b) < 2 {
		_, err := conn.Write(b)
		return err
	}
	points := make([]int, 0, 4)
	for range 1 + rng.IntN(4) {
		points = append(points, 1+rng.IntN(len(b)-1))
	}
	start := 0
	for _, p := range sortedUnique(points) {
		if _, err := conn.Write(b[start:p]); err != nil {
			return err
		}
		start = p
		time.Sleep(2 * time.Millisecond)
	}
	_, err := conn.Write(b[start:])
	return err
}

// binRead reads until the sentinel's reply (then dropped) ends the
// output, EOF, or, without a sentinel, a quiet period.
func binRead(conn net.Conn, sentinel bool) ([]binPacket, []byte, bool) {
	var buf []byte
	tmp := make([]byte, 64<<10)
	deadline := time.Now().Add(binReadLimit)
	for {
		wait := binQuiet
		if sentinel {
			wait = time.Until(deadline)
		}
		conn.SetReadDeadline(time.Now().Add(wait))
		n, err := conn.Read(tmp)
		buf = append(buf, tmp[:n]...)
		pkts, tail := parseBinPackets(buf)
		if sentinel && len(tail) == 0 && len(pkts) > 0 {
			if p := pkts[len(pkts)-1]; p.op == opNoop && p.opaque == binSentinelOpaque {
				return pkts[:len(pkts)-1], nil, false
			}
		}
		if err != nil {
			var ne net.Error
			eof := !(errors.As(err, &ne) && ne.Timeout())
			return pkts, tail, eof
		}
	}
}

// binNormalise renders packets for comparison, hiding what may
// legitimately differ: cas values (numbered by first appearance, so that
// "the same cas" and "a new cas" are still compared), the version string,
// and the statistics inside a STAT reply (the empty packet that ends one
// is kept).
func binNormalise(pkts []binPacket, rest []byte) string {
	var b strings.Builder
	ids := map[uint64]int{}
	for _, p := range pkts {
		if p.op == opStat && p.status == 0 && p.keyLen > 0 {
			continue
		}
		cas := "0"
		if p.cas != 0 {
			n, ok := ids[p.cas]
			if !ok {
				n = len(ids) + 1
				ids[p.cas] = n
			}
			cas = fmt.Sprintf("<cas%d>", n)
		}
		body := fmt.Sprint(p.bodyLen)
		value := fmt.Sprintf("%q", p.value)
		if p.op == opVersion && p.status == 0 {
			body, value = "<len>", "<version>"
		}
		fmt.Fprintf(&b, "[%02x op=%02x st=%04x kl=%d el=%d dt=%d bl=%s opq=%d cas=%s ext=%x key=%q val=%s]\n",
			p.magic, p.op, p.status, p.keyLen, p.extLen, p.dataType, body, p.opaque, cas, p.extras, p.key, value)
	}
	if len(rest) > 0 {
		fmt.Fprintf(&b, "rest=%q\n", rest)
	}
	return b.String()
}

func describeBinCase(c binCase) string {
	var b strings.Builder
	for i, step := range c.steps {
		if i > 0 {
			b.WriteString(" | ")
		}
		for j, r := range step {
			if j > 0 {
				b.WriteString(" ")
			}
			if r.raw != "" {
				fmt.Fprintf(&b, "raw%q", r.raw)
				continue
			}
			fmt.Fprintf(&b, "op%02x(k=%q x=%x v=%.20q", r.op, r.key, r.extras, r.value)
			if r.fix != nil {
				fmt.Fprintf(&b, " fix=%+v", *r.fix)
			}
			b.WriteString(")")
		}
	}
	return b.String()
}

func TestBinaryDifferential(t *testing.T) {
	ref := startMemcached(t)
	sl := startStreamlua(t)
	cases := binBattery()
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.name
	}
	checkBattery(t, names, 100)
	for i, c := range cases {
		for _, cut := range []bool{false, true} {
			name := c.name
			if cut {
				name += "/cut"
			}
			t.Run(name, func(t *testing.T) {
				type result struct {
					pkts   []binPacket
					rest   []byte
					closed bool
					err    error
				}
				var want, got result
				var wg sync.WaitGroup
				wg.Add(2)
				go func() {
					defer wg.Done()
					want.pkts, want.rest, want.closed, want.err = binRun(ref.Addr, c, cut, uint64(i))
				}()
				go func() {
					defer wg.Done()
					got.pkts, got.rest, got.closed, got.err = binRun(sl.Addr, c, cut, uint64(i))
				}()
				wg.Wait()
				if want.err != nil || got.err != nil {
					t.Fatalf("memcached: %v, streamlua: %v", want.err, got.err)
				}
				nw, ng := binNormalise(want.pkts, want.rest), binNormalise(got.pkts, got.rest)
				if nw != ng || want.closed != got.closed {
					t.Errorf("replies differ\nsent:      %s\nmemcached (closed %v):\n%sstreamlua (closed %v):\n%s",
						describeBinCase(c), want.closed, nw, got.closed, ng)
				}
				if c.closes && !got.closed {
					t.Errorf("the case expects the connection to close; it stayed open")
				}
			})
		}
	}
	if t.Failed() {
		t.Logf("streamlua log:\n%s", sl.Logs())
	}
}
