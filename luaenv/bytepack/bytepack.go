package bytepack

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// HeaderLen is the size of a memcached binary protocol header, request or
// response.
const HeaderLen = 24

// Magic bytes of the memcached binary protocol: a request header starts
// with RequestMagic, a response header with ResponseMagic.
const (
	RequestMagic  = 0x80
	ResponseMagic = 0x81
)

// MaxExact is the largest integer up to which every integer is exact in a
// Lua number (a float64): 2^53. Larger 64-bit values cross into Lua as
// decimal strings.
const MaxExact = 1 << 53

var (
	// ErrShort reports input that ends before the value asked for.
	ErrShort = errors.New("bytepack: input too short")
	// ErrSyntax reports a decimal string that is not a plain unsigned
	// integer (digits only, no sign, no spaces).
	ErrSyntax = errors.New("bytepack: not an unsigned decimal integer")
	// ErrRange reports a number that does not fit the width asked for.
	ErrRange = errors.New("bytepack: value out of range")
	// ErrMagic reports a header that does not start with RequestMagic
	// where a request was expected.
	ErrMagic = errors.New("bytepack: not a binary protocol request")
)

// A Header is the fixed 24-byte header of a memcached binary protocol
// packet, with its integers in host order. Status is the vbucket id in a
// request and the status code in a response: the same two bytes.
type Header struct {
	Magic    uint8
	Opcode   uint8
	KeyLen   uint16
	ExtLen   uint8
	DataType uint8
	Status   uint16
	BodyLen  uint32
	Opaque   uint32
	CAS      uint64
}

// ParseHeader reads a header from the first HeaderLen bytes of b. It does
// not judge the fields (a wrong magic is the caller's decision, since what
// to do about it is protocol policy); it fails only when b is too short.
func ParseHeader(b []byte) (Header, error) { return parseHeader(b) }

// text is what the readers accept: Lua strings arrive as Go strings, and
// reading them in place avoids copying each one into a byte slice.
type text interface{ ~string | ~[]byte }

func parseHeader[T text](b T) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrShort
	}
	return Header{
		Magic:    b[0],
		Opcode:   b[1],
		KeyLen:   uint16(be(b[2:4])),
		ExtLen:   b[4],
		DataType: b[5],
		Status:   uint16(be(b[6:8])),
		BodyLen:  uint32(be(b[8:12])),
		Opaque:   uint32(be(b[12:16])),
		CAS:      be(b[16:24]),
	}, nil
}

// be is the big-endian value of the bytes of b (at most 8 of them).
func be[T text](b T) uint64 {
	var v uint64
	for i := 0; i < len(b); i++ {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// Append appends the header's wire form to dst and returns the extended
// slice.
func (h Header) Append(dst []byte) []byte {
	dst = append(dst, h.Magic, h.Opcode)
	dst = binary.BigEndian.AppendUint16(dst, h.KeyLen)
	dst = append(dst, h.ExtLen, h.DataType)
	dst = binary.BigEndian.AppendUint16(dst, h.Status)
	dst = binary.BigEndian.AppendUint32(dst, h.BodyLen)
	dst = binary.BigEndian.AppendUint32(dst, h.Opaque)
	return binary.BigEndian.AppendUint64(dst, h.CAS)
}

// ParseDecimal reads an unsigned 64-bit integer written in decimal, the
// form in which scripts hold cas uniques and counter values. Only digits
// are accepted (leading zeros included), so that a value that round-trips
// through a script is never reinterpreted: no sign, no spaces, no base
// prefix.
func ParseDecimal(s string) (uint64, error) {
	if s == "" {
		return 0, ErrSyntax
	}
	var n uint64
	over := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, ErrSyntax
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			over = true // keep scanning: a bad byte later is a syntax error
		}
		n = n*10 + d
	}
	if over {
		return 0, ErrRange
	}
	return n, nil
}

// AppendUint appends the size-byte big-endian form of v to dst. size is 1,
// 2, 4 or 8; ErrRange when v does not fit in it (or size is another
// width).
func AppendUint(dst []byte, v uint64, size int) ([]byte, error) {
	switch size {
	case 1:
		if v > 0xff {
			return dst, ErrRange
		}
		return append(dst, byte(v)), nil
	case 2:
		if v > 0xffff {
			return dst, ErrRange
		}
		return binary.BigEndian.AppendUint16(dst, uint16(v)), nil
	case 4:
		if v > 0xffffffff {
			return dst, ErrRange
		}
		return binary.BigEndian.AppendUint32(dst, uint32(v)), nil
	case 8:
		return binary.BigEndian.AppendUint64(dst, v), nil
	}
	return dst, ErrRange
}

// Uint reads a size-byte big-endian unsigned integer at offset off of b
// (size 1, 2, 4 or 8). ErrShort when b ends first, ErrRange for another
// size or a negative offset.
func Uint(b []byte, off, size int) (uint64, error) { return uintAt(b, off, size) }

func uintAt[T text](b T, off, size int) (uint64, error) {
	switch {
	case off < 0 || (size != 1 && size != 2 && size != 4 && size != 8):
		return 0, ErrRange
	case len(b)-off < size:
		return 0, ErrShort
	}
	return be(b[off : off+size]), nil
}

// FormatDecimal is the decimal text of v, the inverse of ParseDecimal.
func FormatDecimal(v uint64) string { return strconv.FormatUint(v, 10) }
