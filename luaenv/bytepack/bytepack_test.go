package bytepack

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Header
		err  error
	}{
		{
			name: "get request",
			in:   []byte{0x80, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0},
			want: Header{Magic: 0x80, KeyLen: 3, BodyLen: 3, Opaque: 0xdeadbeef},
		},
		{
			name: "every field at its largest",
			in:   bytes.Repeat([]byte{0xff}, 24),
			want: Header{Magic: 0xff, Opcode: 0xff, KeyLen: 0xffff, ExtLen: 0xff, DataType: 0xff, Status: 0xffff,
				BodyLen: 0xffffffff, Opaque: 0xffffffff, CAS: 0xffffffffffffffff},
		},
		{
			name: "response with status and cas",
			in:   []byte{0x81, 0x01, 0, 0, 0, 0, 0x00, 0x02, 0, 0, 0, 20, 0, 0, 0, 7, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08},
			want: Header{Magic: 0x81, Opcode: 0x01, Status: 2, BodyLen: 20, Opaque: 7, CAS: 0x0102030405060708},
		},
		{
			name: "longer input reads the first 24 bytes",
			in:   append([]byte{0x80, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "key"...),
			want: Header{Magic: 0x80, Opcode: 0x0a},
		},
		{name: "23 bytes", in: make([]byte, 23), err: ErrShort},
		{name: "empty", in: nil, err: ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHeader(tt.in)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("ParseHeader = %+v, %v; want %+v, %v", got, err, tt.want, tt.err)
			}
			if err == nil {
				if back := got.Append(nil); !bytes.Equal(back, tt.in[:HeaderLen]) {
					t.Fatalf("Append = % x, want % x", back, tt.in[:HeaderLen])
				}
			}
		})
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want uint64
		err  error
	}{
		{"zero", "0", 0, nil},
		{"small", "42", 42, nil},
		{"leading zeros", "000123", 123, nil},
		{"2^53 + 1", "9007199254740993", 9007199254740993, nil},
		{"largest", "18446744073709551615", 18446744073709551615, nil},
		{"largest with leading zeros", "0018446744073709551615", 18446744073709551615, nil},
		{"2^64", "18446744073709551616", 0, ErrRange},
		{"far too large", "99999999999999999999999", 0, ErrRange},
		{"empty", "", 0, ErrSyntax},
		{"sign", "+1", 0, ErrSyntax},
		{"minus", "-1", 0, ErrSyntax},
		{"space", " 1", 0, ErrSyntax},
		{"trailing space", "1 ", 0, ErrSyntax},
		{"hex", "0x10", 0, ErrSyntax},
		{"exponent", "1e3", 0, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDecimal(tt.in)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("ParseDecimal(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
			}
			if err == nil && FormatDecimal(got) != trimZeros(tt.in) {
				t.Fatalf("FormatDecimal(%d) = %q", got, FormatDecimal(got))
			}
		})
	}
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

func TestUint(t *testing.T) {
	b := []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09}
	tests := []struct {
		name      string
		off, size int
		want      uint64
		err       error
	}{
		{"u8", 0, 1, 0x01, nil},
		{"u8 last", 8, 1, 0x09, nil},
		{"u16", 1, 2, 0x0203, nil},
		{"u32", 2, 4, 0x03040506, nil},
		{"u64", 1, 8, 0x0203040506070809, nil},
		{"u64 short", 2, 8, 0, ErrShort},
		{"past the end", 9, 1, 0, ErrShort},
		{"far past the end", 100, 4, 0, ErrShort},
		{"negative offset", -1, 1, 0, ErrRange},
		{"odd size", 0, 3, 0, ErrRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Uint(b, tt.off, tt.size)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("Uint(%d, %d) = %#x, %v; want %#x, %v", tt.off, tt.size, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestAppendUint(t *testing.T) {
	tests := []struct {
		name string
		v    uint64
		size int
		want []byte
		err  error
	}{
		{"u8", 0xab, 1, []byte{0xab}, nil},
		{"u16", 0xabcd, 2, []byte{0xab, 0xcd}, nil},
		{"u32", 0x01020304, 4, []byte{1, 2, 3, 4}, nil},
		{"u64", 0x0102030405060708, 8, []byte{1, 2, 3, 4, 5, 6, 7, 8}, nil},
		{"u8 overflow", 0x100, 1, nil, ErrRange},
		{"u16 overflow", 0x10000, 2, nil, ErrRange},
		{"u32 overflow", 0x100000000, 4, nil, ErrRange},
		{"odd size", 1, 3, nil, ErrRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendUint(nil, tt.v, tt.size)
			if !bytes.Equal(got, tt.want) || !errors.Is(err, tt.err) {
				t.Fatalf("AppendUint(%#x, %d) = % x, %v; want % x, %v", tt.v, tt.size, got, err, tt.want, tt.err)
			}
		})
	}
}

func BenchmarkParseHeader(b *testing.B) {
	h := Header{Magic: RequestMagic, KeyLen: 8, BodyLen: 8, Opaque: 12345}.Append(nil)
	var sink Header
	for b.Loop() {
		sink, _ = ParseHeader(h)
	}
	_ = sink
}
