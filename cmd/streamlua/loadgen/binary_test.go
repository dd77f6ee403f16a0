package loadgen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// binResponse builds a binary response the way memcached frames one.
type binResponse struct {
	magic  byte
	opcode byte
	status uint16
	opaque uint32
	extras []byte
	key    []byte
	value  []byte
	// bodyLen overrides the computed total body length when not 0.
	bodyLen uint32
}

func (r binResponse) bytes() []byte {
	h := make([]byte, binHeaderLen)
	magic := r.magic
	if magic == 0 {
		magic = binResMagic
	}
	h[0] = magic
	h[1] = r.opcode
	binary.BigEndian.PutUint16(h[2:], uint16(len(r.key)))
	h[4] = byte(len(r.extras))
	binary.BigEndian.PutUint16(h[6:], r.status)
	body := uint32(len(r.extras) + len(r.key) + len(r.value))
	if r.bodyLen != 0 {
		body = r.bodyLen
	}
	binary.BigEndian.PutUint32(h[8:], body)
	binary.BigEndian.PutUint32(h[12:], r.opaque)
	out := append(h, r.extras...)
	out = append(out, r.key...)
	return append(out, r.value...)
}

func TestEncodeBinary(t *testing.T) {
	tests := []struct {
		name       string
		got        []byte
		opcode     byte
		keyLen     int
		extrasLen  int
		bodyLen    int
		opaque     uint32
		wantSuffix string
	}{
		{"get", appendBinGet(nil, []byte("key:7"), 42), binOpGet, 5, 0, 5, 42, "key:7"},
		{"set", appendBinSet(nil, []byte("k"), []byte("abc"), 7), binOpSet, 1, 8, 12, 7, "\x00\x00\x00\x00\x00\x00\x00\x00kabc"},
		{"set empty value", appendBinSet(nil, []byte("kk"), nil, 1<<31), binOpSet, 2, 8, 10, 1 << 31, "\x00\x00\x00\x00\x00\x00\x00\x00kk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.got
			if len(h) != binHeaderLen+tt.bodyLen {
				t.Fatalf("length %d, want %d", len(h), binHeaderLen+tt.bodyLen)
			}
			if h[0] != binReqMagic || h[1] != tt.opcode || h[5] != 0 {
				t.Fatalf("magic/opcode/datatype % x", h[:6])
			}
			if k := binary.BigEndian.Uint16(h[2:]); int(k) != tt.keyLen {
				t.Fatalf("key length %d, want %d", k, tt.keyLen)
			}
			if int(h[4]) != tt.extrasLen {
				t.Fatalf("extras length %d, want %d", h[4], tt.extrasLen)
			}
			if v := binary.BigEndian.Uint16(h[6:]); v != 0 {
				t.Fatalf("vbucket %d, want 0", v)
			}
			if b := binary.BigEndian.Uint32(h[8:]); int(b) != tt.bodyLen {
				t.Fatalf("body length %d, want %d", b, tt.bodyLen)
			}
			if o := binary.BigEndian.Uint32(h[12:]); o != tt.opaque {
				t.Fatalf("opaque %d, want %d", o, tt.opaque)
			}
			if c := binary.BigEndian.Uint64(h[16:]); c != 0 {
				t.Fatalf("cas %d, want 0", c)
			}
			if !bytes.HasSuffix(h, []byte(tt.wantSuffix)) {
				t.Fatalf("body % x, want suffix % x", h[binHeaderLen:], tt.wantSuffix)
			}
		})
	}
}

func TestParseBinary(t *testing.T) {
	flags := []byte{0, 0, 0, 9}
	tests := []struct {
		name      string
		op        op
		opaque    uint32
		in        []byte
		wantN     int // -1: the whole input; 0: incomplete
		wantKind  replyKind
		wantValue string
		wantErr   error
	}{
		{name: "hit", op: opGet, opaque: 5, in: binResponse{opcode: binOpGet, opaque: 5, extras: flags, value: []byte("hello")}.bytes(), wantN: -1, wantKind: replyHit, wantValue: "hello"},
		{name: "hit empty value", op: opGet, opaque: 5, in: binResponse{opcode: binOpGet, opaque: 5, extras: flags}.bytes(), wantN: -1, wantKind: replyHit, wantValue: ""},
		{name: "miss", op: opGet, opaque: 1, in: binResponse{opcode: binOpGet, opaque: 1, status: binStatusNoKey, value: []byte("Not found")}.bytes(), wantN: -1, wantKind: replyMiss},
		{name: "stored", op: opSet, opaque: 2, in: binResponse{opcode: binOpSet, opaque: 2}.bytes(), wantN: -1, wantKind: replyStored},
		{name: "too large", op: opSet, opaque: 2, in: binResponse{opcode: binOpSet, opaque: 2, status: 3, value: []byte("Too large.")}.bytes(), wantN: -1, wantKind: replyError, wantValue: "Too large."},
		{name: "not found to set is an error", op: opSet, opaque: 2, in: binResponse{opcode: binOpSet, opaque: 2, status: binStatusNoKey, value: []byte("Not found")}.bytes(), wantN: -1, wantKind: replyError, wantValue: "Not found"},
		{name: "out of memory to get", op: opGet, opaque: 2, in: binResponse{opcode: binOpGet, opaque: 2, status: 0x82, value: []byte("Out of memory")}.bytes(), wantN: -1, wantKind: replyError, wantValue: "Out of memory"},
		{name: "followed by the next response", op: opSet, opaque: 3, in: append(binResponse{opcode: binOpSet, opaque: 3}.bytes(), binResponse{opcode: binOpGet, opaque: 4}.bytes()...), wantN: binHeaderLen, wantKind: replyStored},

		{name: "empty", op: opGet, in: nil},
		{name: "half a header", op: opGet, in: []byte{binResMagic, 0, 0}},
		{name: "body incomplete", op: opGet, opaque: 5, in: binResponse{opcode: binOpGet, opaque: 5, extras: flags, value: []byte("hello")}.bytes()[:binHeaderLen+6]},

		{name: "request magic", op: opGet, in: binResponse{magic: binReqMagic, opcode: binOpGet}.bytes(), wantErr: ErrProtocol},
		{name: "text reply", op: opGet, in: []byte("END\r\n"), wantErr: ErrProtocol},
		{name: "wrong opcode", op: opGet, in: binResponse{opcode: binOpSet}.bytes(), wantErr: ErrProtocol},
		{name: "wrong opaque", op: opSet, opaque: 1, in: binResponse{opcode: binOpSet, opaque: 2}.bytes(), wantErr: ErrProtocol},
		{name: "extras and key beyond body", op: opGet, in: binResponse{opcode: binOpGet, extras: flags, bodyLen: 2}.bytes(), wantErr: ErrProtocol},
		{name: "huge body", op: opGet, in: binResponse{opcode: binOpGet, bodyLen: maxReplyBody + 1}.bytes(), wantErr: ErrProtocol},
		{name: "hit without flags", op: opGet, in: binResponse{opcode: binOpGet, value: []byte("v")}.bytes(), wantErr: ErrProtocol},
		{name: "hit with a key", op: opGet, in: binResponse{opcode: binOpGet, extras: flags, key: []byte("k")}.bytes(), wantErr: ErrProtocol},
		{name: "set success with a body", op: opSet, in: binResponse{opcode: binOpSet, value: []byte("x")}.bytes(), wantErr: ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := parseBinary(tt.in, tt.op, tt.opaque)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			want := tt.wantN
			if want < 0 {
				want = len(tt.in)
			}
			if rep.n != want {
				t.Fatalf("n %d, want %d", rep.n, want)
			}
			if rep.n == 0 {
				if rep.need <= len(tt.in) {
					t.Fatalf("incomplete reply needs %d, must be more than the %d bytes given", rep.need, len(tt.in))
				}
				return
			}
			if rep.kind != tt.wantKind || string(rep.value) != tt.wantValue {
				t.Fatalf("kind %d value %q, want %d %q", rep.kind, rep.value, tt.wantKind, tt.wantValue)
			}
		})
	}
}

// TestParseBinarySplit checks every split point: each proper prefix is
// incomplete, and once the header is in, need is the exact length.
func TestParseBinarySplit(t *testing.T) {
	tests := []struct {
		name string
		op   op
		in   []byte
	}{
		{"hit", opGet, binResponse{opcode: binOpGet, opaque: 9, extras: []byte{0, 0, 0, 0}, value: []byte("0123456789")}.bytes()},
		{"miss", opGet, binResponse{opcode: binOpGet, opaque: 9, status: binStatusNoKey, value: []byte("Not found")}.bytes()},
		{"stored", opSet, binResponse{opcode: binOpSet, opaque: 9}.bytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < len(tt.in); i++ {
				rep, err := parseBinary(tt.in[:i], tt.op, 9)
				if err != nil || rep.n != 0 {
					t.Fatalf("prefix of %d: n=%d err=%v, want incomplete", i, rep.n, err)
				}
				if i >= binHeaderLen && rep.need != len(tt.in) {
					t.Fatalf("prefix of %d: need %d, want %d", i, rep.need, len(tt.in))
				}
				if rep.need <= i {
					t.Fatalf("prefix of %d: need %d", i, rep.need)
				}
			}
			rep, err := parseBinary(tt.in, tt.op, 9)
			if err != nil || rep.n != len(tt.in) {
				t.Fatalf("whole response: n=%d err=%v", rep.n, err)
			}
		})
	}
}

// FuzzParseBinary checks that no input makes the parser panic or claim
// bytes it was not given.
func FuzzParseBinary(f *testing.F) {
	f.Add(binResponse{opcode: binOpGet, opaque: 1, extras: []byte{0, 0, 0, 0}, value: []byte("v")}.bytes(), false)
	f.Add(binResponse{opcode: binOpSet, opaque: 1}.bytes(), true)
	f.Add(binResponse{opcode: binOpGet, opaque: 1, status: 1, value: []byte("Not found")}.bytes(), false)
	f.Fuzz(func(t *testing.T, in []byte, set bool) {
		o := opGet
		if set {
			o = opSet
		}
		rep, err := parseBinary(in, o, 1)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
			return
		}
		if rep.n > len(in) || rep.n < 0 {
			t.Fatalf("consumed %d of %d bytes", rep.n, len(in))
		}
		if rep.n == 0 && rep.need <= len(in) {
			t.Fatalf("incomplete with need %d <= %d", rep.need, len(in))
		}
	})
}
