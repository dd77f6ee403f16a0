package tests

import (
	"bufio"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// The number parsers of resty.memcached.proto, checked through a small
// handler (testdata/memcached/proto_check.lua) that answers
// "<parser> <token>" lines: first named cases, then seeded random tokens
// compared with a Go model of memcached's safe_strtoul/safe_strtol/
// safe_strtoull (C's strtoul family on a 64-bit build).

type protoChecker struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	logs func() string
}

func newProtoChecker(t *testing.T) *protoChecker {
	sl := startStreamlua(t, "--dict", "memcached=1m", "--content", "testdata/memcached/proto_check.lua")
	conn, err := net.Dial("tcp", sl.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &protoChecker{t: t, conn: conn, r: bufio.NewReader(conn), logs: sl.Logs}
}

func (p *protoChecker) ask(fn, arg string) string {
	p.t.Helper()
	fmt.Fprintf(p.conn, "%s %s\n", fn, arg)
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Fatalf("%s %q: %v\nlog:\n%s", fn, arg, err, p.logs())
	}
	return strings.TrimSuffix(line, "\n")
}

// TestMemcachedProtoParsers checks resty.memcached.proto's number parsers
// against memcached's strtoul/strtol rules, through a small handler that
// answers "<parser> <token>" lines.
func TestMemcachedProtoParsers(t *testing.T) {
	cases := []struct {
		name, fn, arg, want string
	}{
		{"u32 zero", "u32", "0", "0"},
		{"u32 plain", "u32", "123", "123"},
		{"u32 plus", "u32", "+7", "7"},
		{"u32 leading zeros", "u32", "007", "7"},
		{"u32 minus zero", "u32", "-0", "0"},
		{"u32 minus one", "u32", "-1", "nil"},
		{"u32 max", "u32", "4294967295", "4294967295"},
		{"u32 wraps", "u32", "4294967297", "1"},
		{"u32 2^63 wraps", "u32", "9223372036854775808", "0"},
		{"u32 2^64-1", "u32", "18446744073709551615", "4294967295"},
		{"u32 overflow", "u32", "18446744073709551616", "nil"},
		{"u32 big negative", "u32", "-18446744073709551615", "1"},
		{"u32 fraction", "u32", "1.5", "nil"},
		{"u32 exponent", "u32", "1e2", "nil"},
		{"u32 hex", "u32", "0x10", "nil"},
		{"u32 trailing tab", "u32", "5\t", "5"},
		{"u32 trailing tab junk", "u32", "5\tx", "5"},
		{"u32 trailing junk", "u32", "5x", "nil"},
		{"u32 leading tab", "u32", "\t5", "5"},
		{"u32 sign only", "u32", "-", "nil"},
		{"i32 negative", "i32", "-1", "-1"},
		{"i32 max", "i32", "2147483647", "2147483647"},
		{"i32 wraps negative", "i32", "2147483648", "-2147483648"},
		{"i32 wraps zero", "i32", "4294967296", "0"},
		{"i32 int64 max", "i32", "9223372036854775807", "-1"},
		{"i32 int64 overflow", "i32", "9223372036854775808", "nil"},
		{"i32 int64 min", "i32", "-9223372036854775808", "0"},
		{"i32 int64 underflow", "i32", "-9223372036854775809", "nil"},
		{"i32 ten digits", "i32", "1700000000", "1700000000"},
		{"u64 plain", "u64", "42", "42"},
		{"u64 max", "u64", "18446744073709551615", "18446744073709551615"},
		{"u64 overflow", "u64", "18446744073709551616", "nil"},
		{"u64 leading zeros", "u64", "000000000000000000000001", "1"},
		{"u64 minus one", "u64", "-1", "nil"},
		{"u64 minus big", "u64", "-18446744073709551615", "1"},
		{"u64 minus 2^63", "u64", "-9223372036854775808", "nil"},
		{"u64 minus 2^63+1", "u64", "-9223372036854775809", "9223372036854775807"},
		{"b64 plain", "b64", "Zm9v", "foo"},
		{"b64 padded", "b64", "Zm8=", "fo"},
		{"b64 skips junk", "b64", "Z*m9v!", "foo"},
		{"b64 bad length", "b64", "Zm9vYg", "nil"},
		{"b64 too much padding", "b64", "Z===", "nil"},
		{"ttl never", "ttl", "0", "0"},
		{"ttl relative", "ttl", "100", "100"},
		{"ttl negative", "ttl", "-5", "-1"},
		{"ttl absolute past", "ttl", "2592001", "-1"},
		{"slab class small", "cls", "61", "1"},
		{"slab class 2066", "cls", "2066", "15"},
		{"slab class huge", "cls", "900000", "39"},
		{"slab class 100060", "cls", "100060", "32"},
	}
	p := newProtoChecker(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := p.ask(c.fn, c.arg); got != c.want {
				t.Fatalf("%s(%q) = %q, want %q", c.fn, c.arg, got, c.want)
			}
		})
	}
}

// cIsSpace is C's isspace in the "C" locale.
func cIsSpace(b byte) bool {
	return b == ' ' || (b >= '\t' && b <= '\r')
}

// cStrto models C's strtoull/strtol in base 10: it returns the magnitude
// read, whether a minus sign preceded it, and whether any digit was read;
// rest is what follows the digits.
func cStrto(s string) (mag *big.Int, neg, ok bool, rest string) {
	i := 0
	for i < len(s) && cIsSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start {
		return nil, false, false, s
	}
	mag, _ = new(big.Int).SetString(s[start:i], 10)
	return mag, neg, true, s[i:]
}

// endOK is memcached's check that the number is followed by white space
// or the end of the token.
func endOK(rest string) bool {
	return rest == "" || cIsSpace(rest[0])
}

var (
	two64  = new(big.Int).Lsh(big.NewInt(1), 64)
	two63  = new(big.Int).Lsh(big.NewInt(1), 63)
	maxU64 = new(big.Int).Sub(two64, big.NewInt(1))
)

// modelU64 is safe_strtoull: the value, or ok false.
func modelU64(s string) (uint64, bool) {
	mag, neg, ok, rest := cStrto(s)
	if !ok || mag.Cmp(maxU64) > 0 || !endOK(rest) {
		return 0, false
	}
	v := mag.Uint64()
	if neg {
		v = -v
	}
	if int64(v) < 0 && strings.Contains(s, "-") {
		return 0, false
	}
	return v, true
}

// modelI64 is strtol on a 64-bit long with memcached's end check.
func modelI64(s string) (int64, bool) {
	mag, neg, ok, rest := cStrto(s)
	if !ok || !endOK(rest) {
		return 0, false
	}
	if neg {
		if mag.Cmp(two63) > 0 {
			return 0, false
		}
		return new(big.Int).Neg(mag).Int64(), true
	}
	if mag.Cmp(two63) >= 0 {
		return 0, false
	}
	return mag.Int64(), true
}

func modelAnswer(fn, tok string) string {
	switch fn {
	case "u32":
		if v, ok := modelU64(tok); ok {
			return fmt.Sprint(uint32(v))
		}
	case "i32":
		if v, ok := modelI64(tok); ok {
			return fmt.Sprint(int32(v))
		}
	case "u64":
		if v, ok := modelU64(tok); ok {
			return fmt.Sprint(v)
		}
	}
	return "nil"
}

// randomToken draws a token of the kind memcached's number parser meets:
// mostly numbers near the 32- and 64-bit boundaries with signs, zeros and
// white space around them, sometimes arbitrary bytes.
func randomToken(rng *rand.Rand) string {
	if rng.IntN(4) == 0 {
		const alphabet = "0123456789+-.xe\t\v\f\r0"
		n := 1 + rng.IntN(24)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	bases := []*big.Int{
		big.NewInt(0), big.NewInt(1), big.NewInt(math.MaxInt32), big.NewInt(1 << 32),
		new(big.Int).Set(two63), new(big.Int).Set(two64), big.NewInt(1e9), big.NewInt(1700000000),
	}
	v := new(big.Int).Set(bases[rng.IntN(len(bases))])
	v.Add(v, big.NewInt(int64(rng.IntN(5)-2)))
	if rng.IntN(3) == 0 {
		v.Add(v, big.NewInt(rng.Int64N(1<<40)))
	}
	if v.Sign() < 0 {
		v.Neg(v)
	}
	s := v.String()
	if rng.IntN(5) == 0 {
		s = strings.Repeat("0", 1+rng.IntN(3)) + s
	}
	switch rng.IntN(6) {
	case 0:
		s = "-" + s
	case 1:
		s = "+" + s
	}
	switch rng.IntN(8) {
	case 0:
		s = "\t" + s
	case 1:
		s += "\t"
	case 2:
		s += "\vjunk-"
	case 3:
		s += "x"
	}
	return s
}

// TestMemcachedProtoNumCache checks proto.NUM, the bounded cache of plain
// decimals in front of the parsers: it answers like plain on first sight
// and from the cache, never caches what is not plain, and keeps answering
// right across the clearing that bounds it (600 numbers, twice, against a
// bound of 256).
func TestMemcachedProtoNumCache(t *testing.T) {
	p := newProtoChecker(t)
	notPlain := []string{"01", "1e2", "0x10", "+5", "-5", " 5", "5 ", "1.0", "1000000000", ""}
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < 600; i++ {
			tok := fmt.Sprint(i * 7919 % 1000000)
			if got := p.ask("num", tok); got != tok {
				t.Fatalf("pass %d: NUM[%q] = %q, want %s", pass, tok, got, tok)
			}
			if i%60 == 0 {
				bad := notPlain[i/60%len(notPlain)]
				if got := p.ask("num", bad); got != "nil" {
					t.Fatalf("pass %d: NUM[%q] = %q, want nil (not a plain decimal)", pass, bad, got)
				}
			}
		}
	}
}

func TestMemcachedProtoParsersRandom(t *testing.T) {
	p := newProtoChecker(t)
	rng := rand.New(rand.NewPCG(2024, 11))
	fns := []string{"u32", "i32", "u64"}
	failures := 0
	for i := 0; i < 1500 && failures < 10; i++ {
		fn := fns[i%len(fns)]
		tok := randomToken(rng)
		want := modelAnswer(fn, tok)
		if got := p.ask(fn, tok); got != want {
			failures++
			t.Errorf("%s(%q) = %q, memcached's rules give %q", fn, tok, got, want)
		}
	}
}
