package loadgen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"time"
)

// errWouldBlock is what memConn's Read returns when a real server would
// make the client wait forever: nothing is readable and the server is
// holding its replies. A test that sees it has found a client that stopped
// sending while it should have kept its window full.
var errWouldBlock = errors.New("memconn: read would block forever")

// memConn is an in-memory, single-goroutine memcached: Write parses the
// requests and queues their replies, Read hands them out. It never blocks,
// so tests that use it need no timing. It only understands the requests the
// generator sends (whole requests per Write).
type memConn struct {
	proto Protocol
	value []byte // what a GET hit returns

	out  []byte // replies; out[off:rel] is readable, out[rel:] held
	off  int
	rel  int
	ends []int // end offset in out of each held reply, oldest first
	head int   // first held entry of ends

	// hold, when > 0, makes the server release one reply only when hold
	// requests are unanswered, or when lastAt requests have arrived (the
	// client has nothing more to send).
	hold   int
	lastAt int

	maxRead int // when > 0, Read returns at most this many bytes

	// misbehaviour
	garbageAt int // when > 0, the garbageAt-th reply is "BOGUS\r\n"
	closeAt   int // when > 0, Read returns EOF once closeAt replies were read
	extraAt   int // when > 0, the extraAt-th reply is followed by a stray "STORED\r\n"

	received       int // requests seen
	released       int // replies made readable
	readReplies    int // replies fully handed out by Read
	maxOutstanding int // largest received-released seen after a Write
	gets, sets     int
}

func newMemConn(proto Protocol, valueSize int) *memConn {
	return &memConn{proto: proto, value: makeValue(valueSize)}
}

func (m *memConn) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		var used int
		if m.proto == Binary {
			used = m.binaryRequest(p)
		} else {
			used = m.textRequest(p)
		}
		if used <= 0 {
			return 0, errors.New("memconn: partial or unknown request")
		}
		p = p[used:]
		m.received++
		if m.received == m.extraAt {
			m.out = append(m.out, "STORED\r\n"...)
		}
		m.ends = append(m.ends, len(m.out))
	}
	if m.hold == 0 {
		m.release(len(m.ends) - m.head)
	}
	m.maxOutstanding = max(m.maxOutstanding, m.received-m.released)
	return n, nil
}

func (m *memConn) textRequest(p []byte) int {
	i := bytes.Index(p, []byte("\r\n"))
	if i < 0 {
		return 0
	}
	line := p[:i]
	reply := m.received+1 == m.garbageAt
	switch {
	case bytes.HasPrefix(line, []byte("get ")):
		m.gets++
		switch {
		case reply:
			m.out = append(m.out, "BOGUS\r\n"...)
		default:
			m.out = append(m.out, "VALUE "...)
			m.out = append(m.out, line[4:]...)
			m.out = append(m.out, " 0 "...)
			m.out = strconv.AppendInt(m.out, int64(len(m.value)), 10)
			m.out = append(m.out, "\r\n"...)
			m.out = append(m.out, m.value...)
			m.out = append(m.out, "\r\nEND\r\n"...)
		}
		return i + 2
	case bytes.HasPrefix(line, []byte("set ")):
		m.sets++
		size, err := strconv.Atoi(string(line[bytes.LastIndexByte(line, ' ')+1:]))
		if err != nil || len(p) < i+2+size+2 {
			return 0
		}
		if reply {
			m.out = append(m.out, "BOGUS\r\n"...)
		} else {
			m.out = append(m.out, "STORED\r\n"...)
		}
		return i + 2 + size + 2
	}
	return 0
}

func (m *memConn) binaryRequest(p []byte) int {
	if len(p) < binHeaderLen || p[0] != binReqMagic {
		return 0
	}
	body := int(binary.BigEndian.Uint32(p[8:]))
	if len(p) < binHeaderLen+body {
		return 0
	}
	var h [binHeaderLen + binGetExtras]byte
	h[0] = binResMagic
	h[1] = p[1]
	copy(h[12:16], p[12:16]) // opaque
	if m.received+1 == m.garbageAt {
		h[0] = 0x42
	}
	if p[1] == binOpGet {
		m.gets++
		h[4] = binGetExtras
		binary.BigEndian.PutUint32(h[8:], uint32(binGetExtras+len(m.value)))
		m.out = append(m.out, h[:]...)
		m.out = append(m.out, m.value...)
	} else {
		m.sets++
		m.out = append(m.out, h[:binHeaderLen]...)
	}
	return binHeaderLen + body
}

// release makes the next n held replies readable.
func (m *memConn) release(n int) {
	for ; n > 0 && m.head < len(m.ends); n-- {
		m.rel = m.ends[m.head]
		m.head++
		m.released++
	}
}

func (m *memConn) Read(p []byte) (int, error) {
	if m.closeAt > 0 && m.readReplies >= m.closeAt {
		return 0, io.EOF
	}
	if m.off == m.rel && m.hold > 0 {
		if m.received-m.released >= m.hold || (m.lastAt > 0 && m.received >= m.lastAt) {
			m.release(1)
		}
	}
	if m.off == m.rel {
		return 0, errWouldBlock
	}
	limit := m.rel
	if m.maxRead > 0 && limit-m.off > m.maxRead {
		limit = m.off + m.maxRead
	}
	if m.closeAt > 0 && m.closeAt <= len(m.ends) {
		// Stop at the end of reply closeAt, so the client sees it whole.
		if end := m.ends[m.closeAt-1]; limit > end {
			limit = end
		}
	}
	n := copy(p, m.out[m.off:limit])
	m.off += n
	for m.readReplies < m.head && m.ends[m.readReplies] <= m.off {
		m.readReplies++
	}
	if m.off == len(m.out) && m.head == len(m.ends) && m.closeAt == 0 {
		// Everything delivered: reuse the buffers, so a steady state
		// allocates nothing.
		m.out, m.ends = m.out[:0], m.ends[:0]
		m.off, m.rel, m.head, m.readReplies = 0, 0, 0, 0
	}
	return n, nil
}

func (m *memConn) Close() error                       { return nil }
func (m *memConn) LocalAddr() net.Addr                { return memAddr{} }
func (m *memConn) RemoteAddr() net.Addr               { return memAddr{} }
func (m *memConn) SetDeadline(t time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(t time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem" }

var _ net.Conn = (*memConn)(nil)
