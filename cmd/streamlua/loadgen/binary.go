package loadgen

import (
	"encoding/binary"
	"fmt"
)

// Binary protocol constants (memcached's protocol_binary.h, frozen since
// 1.4).
const (
	binHeaderLen   = 24
	binReqMagic    = 0x80
	binResMagic    = 0x81
	binOpGet       = 0x00
	binOpSet       = 0x01
	binSetExtras   = 8 // flags (4) + expiration (4)
	binGetExtras   = 4 // flags
	binStatusOK    = 0x0000
	binStatusNoKey = 0x0001
)

// binOpcode maps a request kind to its opcode.
func binOpcode(o op) byte {
	if o == opSet {
		return binOpSet
	}
	return binOpGet
}

// putBinHeader writes a request header into h (24 bytes).
func putBinHeader(h []byte, opcode byte, keyLen, extrasLen, bodyLen int, opaque uint32) {
	h[0] = binReqMagic
	h[1] = opcode
	binary.BigEndian.PutUint16(h[2:], uint16(keyLen))
	h[4] = byte(extrasLen)
	h[5] = 0 // data type
	binary.BigEndian.PutUint16(h[6:], 0)
	binary.BigEndian.PutUint32(h[8:], uint32(bodyLen))
	binary.BigEndian.PutUint32(h[12:], opaque)
	binary.BigEndian.PutUint64(h[16:], 0) // cas: don't care
}

// appendBinGet appends a binary GET for key tagged with opaque.
func appendBinGet(dst, key []byte, opaque uint32) []byte {
	var h [binHeaderLen]byte
	putBinHeader(h[:], binOpGet, len(key), 0, len(key), opaque)
	dst = append(dst, h[:]...)
	return append(dst, key...)
}

// appendBinSet appends a binary SET of value under key, flags 0, no expiry.
func appendBinSet(dst, key, value []byte, opaque uint32) []byte {
	var h [binHeaderLen + binSetExtras]byte
	putBinHeader(h[:], binOpSet, len(key), binSetExtras, binSetExtras+len(key)+len(value), opaque)
	// Extras (flags, expiration) stay zero.
	dst = append(dst, h[:]...)
	dst = append(dst, key...)
	return append(dst, value...)
}

// parseBinary parses the binary response at the front of buf to a request
// of kind o sent with opaque.
func parseBinary(buf []byte, o op, opaque uint32) (reply, error) {
	if len(buf) < binHeaderLen {
		if len(buf) > 0 && buf[0] != binResMagic {
			return reply{}, fmt.Errorf("%w: response magic 0x%02x, want 0x81", ErrProtocol, buf[0])
		}
		return incomplete(buf, binHeaderLen)
	}
	if buf[0] != binResMagic {
		return reply{}, fmt.Errorf("%w: response magic 0x%02x, want 0x81", ErrProtocol, buf[0])
	}
	want := binOpcode(o)
	if buf[1] != want {
		return reply{}, fmt.Errorf("%w: opcode 0x%02x in answer to 0x%02x", ErrProtocol, buf[1], want)
	}
	keyLen := int(binary.BigEndian.Uint16(buf[2:]))
	extLen := int(buf[4])
	status := binary.BigEndian.Uint16(buf[6:])
	bodyLen := binary.BigEndian.Uint32(buf[8:])
	if got := binary.BigEndian.Uint32(buf[12:]); got != opaque {
		return reply{}, fmt.Errorf("%w: opaque %d in answer to request %d", ErrProtocol, got, opaque)
	}
	if bodyLen > maxReplyBody {
		return reply{}, fmt.Errorf("%w: body of %d bytes (max %d)", ErrProtocol, bodyLen, maxReplyBody)
	}
	body := int(bodyLen)
	if extLen+keyLen > body {
		return reply{}, fmt.Errorf("%w: extras %d + key %d exceed body %d", ErrProtocol, extLen, keyLen, body)
	}
	total := binHeaderLen + body
	if len(buf) < total {
		return incomplete(buf, total)
	}
	switch {
	case status == binStatusOK && o == opGet:
		if extLen != binGetExtras || keyLen != 0 {
			return reply{}, fmt.Errorf("%w: GET hit with extras %d and key %d, want 4 and 0", ErrProtocol, extLen, keyLen)
		}
		return reply{n: total, kind: replyHit, value: buf[binHeaderLen+extLen : total]}, nil
	case status == binStatusOK:
		if body != 0 {
			return reply{}, fmt.Errorf("%w: SET success with a %d-byte body", ErrProtocol, body)
		}
		return reply{n: total, kind: replyStored}, nil
	case status == binStatusNoKey && o == opGet:
		return reply{n: total, kind: replyMiss}, nil
	}
	return reply{n: total, kind: replyError, value: buf[binHeaderLen+extLen+keyLen : total]}, nil
}
