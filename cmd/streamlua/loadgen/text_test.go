package loadgen

import (
	"errors"
	"strings"
	"testing"
)

func TestEncodeText(t *testing.T) {
	tests := []struct {
		name  string
		got   []byte
		wants string
	}{
		{"get", appendTextGet(nil, []byte("key:7")), "get key:7\r\n"},
		{"set", appendTextSet(nil, []byte("k"), []byte("abc")), "set k 0 0 3\r\nabc\r\n"},
		{"set empty value", appendTextSet(nil, []byte("k"), nil), "set k 0 0 0\r\n\r\n"},
		{"appends", appendTextGet([]byte("x"), []byte("k")), "xget k\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got) != tt.wants {
				t.Fatalf("got %q, want %q", tt.got, tt.wants)
			}
		})
	}
}

func TestParseText(t *testing.T) {
	long := strings.Repeat("x", maxTextLine+10)
	tests := []struct {
		name      string
		op        op
		key       string
		in        string
		wantN     int // 0: incomplete
		wantKind  replyKind
		wantValue string
		wantErr   error
	}{
		{name: "hit", op: opGet, key: "k1", in: "VALUE k1 0 3\r\nabc\r\nEND\r\n", wantN: 24, wantKind: replyHit, wantValue: "abc"},
		{name: "hit with cas", op: opGet, key: "k1", in: "VALUE k1 5 2 18446744073709551615\r\nab\r\nEND\r\n", wantN: 44, wantKind: replyHit, wantValue: "ab"},
		{name: "hit with empty value", op: opGet, key: "k", in: "VALUE k 0 0\r\n\r\nEND\r\n", wantN: 20, wantKind: replyHit, wantValue: ""},
		{name: "value holding CRLF and END", op: opGet, key: "k", in: "VALUE k 0 7\r\nEND\r\nxx\r\nEND\r\n", wantN: 27, wantKind: replyHit, wantValue: "END\r\nxx"},
		{name: "hit followed by the next reply", op: opGet, key: "k", in: "VALUE k 0 1\r\nz\r\nEND\r\nSTORED\r\n", wantN: 21, wantKind: replyHit, wantValue: "z"},
		{name: "miss", op: opGet, key: "k", in: "END\r\n", wantN: 5, wantKind: replyMiss},
		{name: "stored", op: opSet, key: "k", in: "STORED\r\n", wantN: 8, wantKind: replyStored},
		{name: "not stored", op: opSet, key: "k", in: "NOT_STORED\r\n", wantN: 12, wantKind: replyError, wantValue: "NOT_STORED"},
		{name: "server error to set", op: opSet, key: "k", in: "SERVER_ERROR out of memory storing object\r\n", wantN: 43, wantKind: replyError, wantValue: "SERVER_ERROR out of memory storing object"},
		{name: "client error to get", op: opGet, key: "k", in: "CLIENT_ERROR bad command line format\r\n", wantN: 38, wantKind: replyError, wantValue: "CLIENT_ERROR bad command line format"},
		{name: "ERROR to get", op: opGet, key: "k", in: "ERROR\r\n", wantN: 7, wantKind: replyError, wantValue: "ERROR"},

		{name: "empty buffer", op: opGet, key: "k", in: ""},
		{name: "line without LF", op: opGet, key: "k", in: "VALUE k 0 3\r"},
		{name: "data incomplete", op: opGet, key: "k", in: "VALUE k 0 3\r\nab"},
		{name: "END missing", op: opGet, key: "k", in: "VALUE k 0 3\r\nabc\r\nEN"},

		{name: "STORED to get", op: opGet, key: "k", in: "STORED\r\n", wantErr: ErrProtocol},
		{name: "END to set", op: opSet, key: "k", in: "END\r\n", wantErr: ErrProtocol},
		{name: "value for another key", op: opGet, key: "k1", in: "VALUE k2 0 1\r\nx\r\nEND\r\n", wantErr: ErrProtocol},
		{name: "bare LF", op: opGet, key: "k", in: "END\n", wantErr: ErrProtocol},
		{name: "lone LF", op: opGet, key: "k", in: "\n", wantErr: ErrProtocol},
		{name: "unknown line", op: opGet, key: "k", in: "HELLO\r\n", wantErr: ErrProtocol},
		{name: "ERROR with text", op: opGet, key: "k", in: "ERRORS\r\n", wantErr: ErrProtocol},
		{name: "lower case end", op: opGet, key: "k", in: "end\r\n", wantErr: ErrProtocol},
		{name: "too few fields", op: opGet, key: "k", in: "VALUE k 0\r\n", wantErr: ErrProtocol},
		{name: "too many fields", op: opGet, key: "k", in: "VALUE k 0 1 2 3\r\n", wantErr: ErrProtocol},
		{name: "double space", op: opGet, key: "k", in: "VALUE k  0 1\r\n", wantErr: ErrProtocol},
		{name: "negative length", op: opGet, key: "k", in: "VALUE k 0 -1\r\n", wantErr: ErrProtocol},
		{name: "huge length", op: opGet, key: "k", in: "VALUE k 0 99999999999\r\n", wantErr: ErrProtocol},
		{name: "flags above 32 bits", op: opGet, key: "k", in: "VALUE k 4294967296 1\r\n", wantErr: ErrProtocol},
		{name: "bad cas", op: opGet, key: "k", in: "VALUE k 0 1 x\r\n", wantErr: ErrProtocol},
		{name: "data not followed by CRLF", op: opGet, key: "k", in: "VALUE k 0 1\r\nxy\nEND\r\n", wantErr: ErrProtocol},
		{name: "second value instead of END", op: opGet, key: "k", in: "VALUE k 0 1\r\nx\r\nVALUE\r\n", wantErr: ErrProtocol},
		{name: "endless line", op: opGet, key: "k", in: long, wantErr: ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := parseText([]byte(tt.in), tt.op, []byte(tt.key))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if rep.n != tt.wantN {
				t.Fatalf("n %d, want %d", rep.n, tt.wantN)
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

// TestParseTextSplit checks every split point of complete replies: each
// proper prefix is incomplete (never an error, never a wrong reply), and
// the need reported for a VALUE whose header is in is the exact length.
func TestParseTextSplit(t *testing.T) {
	tests := []struct {
		name string
		op   op
		in   string
	}{
		{"hit", opGet, "VALUE key:12 0 10\r\n0123456789\r\nEND\r\n"},
		{"hit with cas", opGet, "VALUE key:12 3 2 77\r\nab\r\nEND\r\n"},
		{"miss", opGet, "END\r\n"},
		{"stored", opSet, "STORED\r\n"},
		{"server error", opSet, "SERVER_ERROR object too large for cache\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full := []byte(tt.in)
			for i := 0; i < len(full); i++ {
				rep, err := parseText(full[:i], tt.op, []byte("key:12"))
				if err != nil || rep.n != 0 {
					t.Fatalf("prefix %q: n=%d err=%v, want incomplete", full[:i], rep.n, err)
				}
				if rep.need <= i {
					t.Fatalf("prefix of %d: need %d, want more than %d", i, rep.need, i)
				}
				headerIn := strings.Contains(string(full[:i]), "\n")
				if strings.HasPrefix(tt.in, "VALUE") && headerIn && rep.need != len(full) {
					t.Fatalf("prefix of %d: need %d, want the exact length %d", i, rep.need, len(full))
				}
			}
			rep, err := parseText(full, tt.op, []byte("key:12"))
			if err != nil || rep.n != len(full) {
				t.Fatalf("whole reply: n=%d err=%v, want %d", rep.n, err, len(full))
			}
		})
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in   string
		max  uint64
		want uint64
		ok   bool
	}{
		{"0", 10, 0, true},
		{"10", 10, 10, true},
		{"11", 10, 0, false},
		{"4294967295", 1<<32 - 1, 1<<32 - 1, true},
		{"4294967296", 1<<32 - 1, 0, false},
		{"18446744073709551615", 1<<64 - 1, 1<<64 - 1, true},
		{"", 10, 0, false},
		{"1a", 10, 0, false},
		{"+1", 10, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseDecimal([]byte(tt.in), tt.max)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("parseDecimal(%q, %d) = %d %v, want %d %v", tt.in, tt.max, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseTextAllocs(t *testing.T) {
	buf := []byte("VALUE key:1 0 4\r\nabcd\r\nEND\r\n")
	key := []byte("key:1")
	allocs := testing.AllocsPerRun(100, func() {
		if rep, err := parseText(buf, opGet, key); err != nil || rep.kind != replyHit {
			t.Fatal(rep, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per parse, want 0", allocs)
	}
}

// FuzzParseText checks that no input makes the parser panic, claim more
// bytes than it was given, or report an incomplete reply without asking
// for more bytes.
func FuzzParseText(f *testing.F) {
	for _, s := range []string{
		"VALUE k 0 3\r\nabc\r\nEND\r\n", "END\r\n", "STORED\r\n", "SERVER_ERROR x\r\n",
		"VALUE k 0 3 9\r\nabc\r\nEND\r\n", "VALUE k 0 99\r\n", "\r\n", "VALUE  k",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, set bool) {
		o := opGet
		if set {
			o = opSet
		}
		rep, err := parseText(in, o, []byte("k"))
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
		if rep.n > 0 && (rep.kind < replyHit || rep.kind > replyError) {
			t.Fatalf("complete reply of kind %d", rep.kind)
		}
	})
}
