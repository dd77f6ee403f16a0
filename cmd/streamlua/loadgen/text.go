package loadgen

import (
	"bytes"
	"fmt"
	"strconv"
)

// op is a request kind.
type op uint8

const (
	opGet op = iota
	opSet
)

func (o op) String() string {
	if o == opSet {
		return "set"
	}
	return "get"
}

// replyKind classifies a complete, well-formed reply.
type replyKind uint8

const (
	// replyHit is a GET that found the key.
	replyHit replyKind = iota + 1
	// replyMiss is a GET that did not.
	replyMiss
	// replyStored is a SET that succeeded.
	replyStored
	// replyError is an error the protocol allows in answer to the request
	// (SERVER_ERROR, CLIENT_ERROR, ERROR, NOT_STORED; a binary status other
	// than success or, for GET, not found). The stream stays in sync.
	replyError
)

// reply is the result of parsing the front of a read buffer.
type reply struct {
	// n is the number of bytes the reply occupies; 0 means the buffer does
	// not hold a whole reply yet.
	n int
	// need, when n is 0, is a lower bound on the reply's length (always more
	// than the bytes given), so the caller can grow its buffer once.
	need int
	kind replyKind
	// value aliases the parsed buffer: the data of a hit, or the text of
	// an error reply (its line, or a binary status message).
	value []byte
}

// Text protocol limits. memcached's own replies are far shorter; the caps
// only stop a broken server from making the generator buffer without end.
const (
	maxTextLine  = 2048
	maxReplyBody = 16 << 20
)

var (
	textValue       = []byte("VALUE ")
	textEnd         = []byte("END")
	textStored      = []byte("STORED")
	textNotStored   = []byte("NOT_STORED")
	textError       = []byte("ERROR")
	textServerError = []byte("SERVER_ERROR")
	textClientError = []byte("CLIENT_ERROR")
	textEndCRLF     = []byte("END\r\n")
)

// appendTextGet appends a text GET for key.
func appendTextGet(dst, key []byte) []byte {
	dst = append(dst, "get "...)
	dst = append(dst, key...)
	return append(dst, "\r\n"...)
}

// appendTextSet appends a text SET of value under key, flags 0, no expiry.
func appendTextSet(dst, key, value []byte) []byte {
	dst = append(dst, "set "...)
	dst = append(dst, key...)
	dst = append(dst, " 0 0 "...)
	dst = strconv.AppendInt(dst, int64(len(value)), 10)
	dst = append(dst, "\r\n"...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// incomplete is the reply for a buffer that does not hold the whole reply;
// need is raised above len(buf) so the caller always makes progress.
func incomplete(buf []byte, need int) (reply, error) {
	if need <= len(buf) {
		need = len(buf) + 1
	}
	return reply{need: need}, nil
}

// textLine returns the first line of buf without its CRLF and the length
// including it. ok is false when the line is not complete yet.
func textLine(buf []byte) (line []byte, n int, ok bool, err error) {
	limit := len(buf)
	if limit > maxTextLine {
		limit = maxTextLine
	}
	i := bytes.IndexByte(buf[:limit], '\n')
	if i < 0 {
		if len(buf) >= maxTextLine {
			return nil, 0, false, fmt.Errorf("%w: reply line longer than %d bytes", ErrProtocol, maxTextLine)
		}
		return nil, 0, false, nil
	}
	if i == 0 || buf[i-1] != '\r' {
		return nil, 0, false, fmt.Errorf("%w: reply line %q does not end in CRLF", ErrProtocol, clip(buf[:i]))
	}
	return buf[:i-1], i + 1, true, nil
}

// isTextError reports whether line is one of the error replies any command
// may receive.
func isTextError(line []byte) bool {
	return bytes.Equal(line, textError) ||
		bytes.HasPrefix(line, textServerError) ||
		bytes.HasPrefix(line, textClientError)
}

// parseText parses the text reply at the front of buf to a request of kind
// o for key.
func parseText(buf []byte, o op, key []byte) (reply, error) {
	line, n, ok, err := textLine(buf)
	if err != nil {
		return reply{}, err
	}
	if !ok {
		return incomplete(buf, 0)
	}
	if o == opSet {
		switch {
		case bytes.Equal(line, textStored):
			return reply{n: n, kind: replyStored}, nil
		case bytes.Equal(line, textNotStored), isTextError(line):
			return reply{n: n, kind: replyError, value: line}, nil
		}
		return reply{}, fmt.Errorf("%w: %q in answer to set", ErrProtocol, clip(line))
	}
	switch {
	case bytes.Equal(line, textEnd):
		return reply{n: n, kind: replyMiss}, nil
	case isTextError(line):
		return reply{n: n, kind: replyError, value: line}, nil
	case !bytes.HasPrefix(line, textValue):
		return reply{}, fmt.Errorf("%w: %q in answer to get", ErrProtocol, clip(line))
	}
	size, err := parseValueLine(line[len(textValue):], key)
	if err != nil {
		return reply{}, err
	}
	total := n + size + 2 + len(textEndCRLF)
	if len(buf) < total {
		return incomplete(buf, total)
	}
	data := buf[n : n+size]
	if buf[n+size] != '\r' || buf[n+size+1] != '\n' {
		return reply{}, fmt.Errorf("%w: data block of %q not followed by CRLF", ErrProtocol, key)
	}
	if !bytes.Equal(buf[n+size+2:total], textEndCRLF) {
		return reply{}, fmt.Errorf("%w: %q after the value of %q, want END", ErrProtocol, clip(buf[n+size+2:total]), key)
	}
	return reply{n: total, kind: replyHit, value: data}, nil
}

// parseValueLine checks "<key> <flags> <bytes>[ <cas>]" (the part after
// "VALUE ") and returns <bytes>.
func parseValueLine(rest, key []byte) (int, error) {
	var fields [4][]byte
	nf := 0
	for len(rest) > 0 {
		if nf == len(fields) {
			return 0, fmt.Errorf("%w: too many fields in VALUE line", ErrProtocol)
		}
		i := bytes.IndexByte(rest, ' ')
		if i < 0 {
			fields[nf], rest = rest, nil
		} else {
			fields[nf], rest = rest[:i], rest[i+1:]
		}
		if len(fields[nf]) == 0 {
			return 0, fmt.Errorf("%w: empty field in VALUE line", ErrProtocol)
		}
		nf++
	}
	if nf < 3 {
		return 0, fmt.Errorf("%w: VALUE line with %d fields, want 3 or 4", ErrProtocol, nf)
	}
	if !bytes.Equal(fields[0], key) {
		return 0, fmt.Errorf("%w: VALUE for key %q in answer to get %q", ErrProtocol, clip(fields[0]), key)
	}
	if _, ok := parseDecimal(fields[1], 1<<32-1); !ok {
		return 0, fmt.Errorf("%w: bad flags %q in VALUE line", ErrProtocol, clip(fields[1]))
	}
	size, ok := parseDecimal(fields[2], maxReplyBody)
	if !ok {
		return 0, fmt.Errorf("%w: bad length %q in VALUE line (max %d)", ErrProtocol, clip(fields[2]), maxReplyBody)
	}
	if nf == 4 && !allDigits(fields[3]) {
		return 0, fmt.Errorf("%w: bad cas %q in VALUE line", ErrProtocol, clip(fields[3]))
	}
	return int(size), nil
}

// parseDecimal parses an unsigned decimal of at most max without
// allocating.
func parseDecimal(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (max-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// allDigits reports whether b is a non-empty run of at most 20 digits; a
// 64-bit cas above 2^63 is legal.
func allDigits(b []byte) bool {
	if len(b) == 0 || len(b) > 20 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// clip shortens b for an error message.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
