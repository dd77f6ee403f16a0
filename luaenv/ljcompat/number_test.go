package ljcompat

import (
	"math"
	"strconv"
	"testing"
)

// formatCases are LuaJIT 2.1 tostring outputs (checked with luajit on
// x86-64 Linux). Where glibc's "%.14g" differs, the glibc text is noted.
var formatCases = []struct {
	name string
	in   float64
	want string
}{
	{"zero", 0, "0"},
	{"negative zero", math.Copysign(0, -1), "-0"},
	{"small integer", 42, "42"},
	{"negative integer", -7, "-7"},
	{"largest plain integer", 99999999999999, "99999999999999"},
	{"1e14 switches to exponent", 1e14, "1e+14"},
	{"1e15", 1e15, "1e+15"},
	{"2^53", 1 << 53, "9.007199254741e+15"},
	{"2^63", 1 << 63, "9.2233720368548e+18"},
	{"one third", 1.0 / 3, "0.33333333333333"},
	{"0.1+0.2", 0.1 + 0.2, "0.3"},
	{"56+150*2.1", 56 + 150*2.1, "371"},
	{"1e100", 1e100, "1e+100"},
	{"-1e-5", -1e-5, "-1e-05"},
	{"1e-4 stays fixed", 1e-4, "0.0001"},
	{"15-digit integer tie (glibc: 1.2345678901234e+14)", 123456789012345, "1.2345678901235e+14"},
	{"tie on 5 (glibc: 1e+14)", 100000000000005, "1.0000000000001e+14"},
	{"2^-21 tie (glibc: 4.7683715820312e-07)", math.Ldexp(1, -21), "4.7683715820313e-07"},
	{"negative half", -1234567890123.5, "-1234567890123.5"},
	{"fraction", 123456.789, "123456.789"},
	{"max float", math.MaxFloat64, "1.7976931348623e+308"},
	{"smallest denormal", math.SmallestNonzeroFloat64, "4.9406564584125e-324"},
	{"inf", math.Inf(1), "inf"},
	{"-inf", math.Inf(-1), "-inf"},
	{"nan", math.NaN(), "nan"},
	{"negative nan prints unsigned", math.Float64frombits(0xfff8000000000000), "nan"},
	{"rounding carries", 9.99999999999999e22, "1e+23"},
}

func TestFormatNumber(t *testing.T) {
	for _, c := range formatCases {
		t.Run(c.name, func(t *testing.T) {
			if got := FormatNumber(c.in); got != c.want {
				t.Errorf("FormatNumber(%v) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestAppendNumberAppends(t *testing.T) {
	for _, c := range formatCases {
		t.Run(c.name, func(t *testing.T) {
			got := AppendNumber([]byte("x="), c.in)
			if string(got) != "x="+c.want {
				t.Errorf("AppendNumber = %q, want %q", got, "x="+c.want)
			}
		})
	}
}

func TestAppendNumberAllocations(t *testing.T) {
	buf := make([]byte, 0, 64)
	for _, c := range []struct {
		name string
		in   float64
	}{
		{"integer", 1234567},
		{"negative integer", -42},
		{"fraction", 0.1 + 0.2},
		{"exponent", 1e100},
		{"tie", 123456789012345},
	} {
		t.Run(c.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { buf = AppendNumber(buf[:0], c.in) }); n != 0 {
				t.Errorf("AppendNumber(%v) allocates %v times", c.in, n)
			}
		})
	}
}

// TestFormatNumberMatchesStrconvAwayFromTies checks the %g layout against
// Go's own %.14g on values where no exact tie occurs (the only place the
// two roundings differ).
func TestFormatNumberMatchesStrconvAwayFromTies(t *testing.T) {
	for _, f := range numberCorpus(20000) {
		if math.IsInf(f, 0) || math.IsNaN(f) || f == 0 || isTieSig(math.Abs(f), 14) {
			continue
		}
		want := strconv.FormatFloat(f, 'g', 14, 64)
		if got := FormatNumber(f); got != want {
			t.Fatalf("FormatNumber(%v) = %q, strconv %q", f, got, want)
		}
	}
}

func TestIsTie(t *testing.T) {
	for _, c := range []struct {
		name string
		x    float64
		sig  int
		want bool
	}{
		{"0.5 to 0 digits after 1", 0.5, 0, true},
		{"2.5 to 1 significant digit", 2.5, 1, true},
		{"2.5 to 2 significant digits", 2.5, 2, false},
		{"0.1 is never exact", 0.1, 1, false},
		{"15-digit integer ending in 5", 123456789012345, 14, true},
		{"15-digit integer ending in 4", 123456789012344, 14, false},
		{"integer with trailing zeros", 1500, 1, true},
		{"2^-21", math.Ldexp(1, -21), 14, true},
		{"long expansion needs big arithmetic", math.Ldexp(1, -30), 20, true},
		{"huge integer", 1e300, 14, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := isTieSig(c.x, c.sig); got != c.want {
				t.Errorf("isTieSig(%v, %d) = %v, want %v", c.x, c.sig, got, c.want)
			}
		})
	}
	for _, c := range []struct {
		name string
		x    float64
		prec int
		want bool
	}{
		{"0.25 to 1 place", 0.25, 1, true},
		{"0.25 to 2 places", 0.25, 2, false},
		{"0.5 to 0 places", 0.5, 0, true},
		{"integer", 3, 0, false},
		{"1.005 is inexact", 1.005, 2, false},
	} {
		t.Run("frac/"+c.name, func(t *testing.T) {
			if got := isTieFrac(c.x, c.prec); got != c.want {
				t.Errorf("isTieFrac(%v, %d) = %v, want %v", c.x, c.prec, got, c.want)
			}
		})
	}
}

func TestParseNumber(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want float64
		ok   bool
	}{
		{"integer", "42", 42, true},
		{"exponent", "1e3", 1000, true},
		{"signed exponent", "-2.5E-3", -0.0025, true},
		{"hex", "0x10", 16, true},
		{"hex upper", "0XFF", 255, true},
		{"hex fraction", "0x1.8", 1.5, true},
		{"hex exponent", "0x1p-2", 0.25, true},
		{"negative hex", "-0x10", -16, true},
		{"binary", "0b101", 5, true},
		{"spaces", " \t\n12\v\f\r", 12, true},
		{"leading point", ".5", 0.5, true},
		{"trailing point", "5.", 5, true},
		{"plus sign", "+7", 7, true},
		{"uint64 max", "18446744073709551615", 18446744073709551615, true},
		{"overflow is inf", "1e400", math.Inf(1), true},
		{"underflow is zero", "1e-400", 0, true},
		{"inf", "inf", math.Inf(1), true},
		{"infinity", "-Infinity", math.Inf(-1), true},
		{"long hex rounds to even", "0x20000000000001", 9007199254740992, true},
		{"sticky digits round up", "0x200000000000010000001", 0x200000000000020000000, true},
		{"empty", "", 0, false},
		{"only space", "  ", 0, false},
		{"lone exponent", "1e", 0, false},
		{"exponent sign only", "1e+", 0, false},
		{"lone point", ".", 0, false},
		{"two points", "1.2.3", 0, false},
		{"empty hex", "0x", 0, false},
		{"binary digit 2", "0b12", 0, false},
		{"binary fraction", "0b1.1", 0, false},
		{"underscore", "1_000", 0, false},
		{"suffix", "1LL", 0, false},
		{"inner space", "1 2", 0, false},
		{"embedded NUL", "1\x00", 0, false},
		{"exponent too large", "1e1048576", 0, false},
		{"word", "abc", 0, false},
		{"double sign", "--1", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ParseNumber(c.in)
			if ok != c.ok || (ok && got != c.want) {
				t.Errorf("ParseNumber(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
	if v, ok := ParseNumber("nan"); !ok || !math.IsNaN(v) {
		t.Errorf(`ParseNumber("nan") = %v, %v`, v, ok)
	}
	if v, ok := ParseNumber("-0"); !ok || v != 0 || !math.Signbit(v) {
		t.Errorf(`ParseNumber("-0") = %v, %v; want -0`, v, ok)
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range stringCorpus(200) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseNumber(s)
		if !ok {
			return
		}
		// Whatever parses must survive a print/parse round trip at
		// LuaJIT's 14 digits.
		text := FormatNumber(v)
		w, ok := ParseNumber(text)
		if !ok {
			t.Fatalf("FormatNumber(ParseNumber(%q)) = %q does not parse", s, text)
		}
		if again := FormatNumber(w); again != text {
			t.Fatalf("round trip of %q: %q then %q", s, text, again)
		}
	})
}

func FuzzFormatNumber(f *testing.F) {
	for _, c := range formatCases {
		f.Add(math.Float64bits(c.in))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		x := math.Float64frombits(bits)
		s := FormatNumber(x)
		if len(s) == 0 || len(s) > 24 {
			t.Fatalf("FormatNumber(%v) = %q", x, s)
		}
		if math.IsNaN(x) {
			return
		}
		if _, ok := ParseNumber(s); !ok {
			t.Fatalf("FormatNumber(%v) = %q does not parse back", x, s)
		}
		if !isTieSig(math.Abs(x), 14) && !math.IsInf(x, 0) && x != 0 {
			if want := strconv.FormatFloat(x, 'g', 14, 64); s != want {
				t.Fatalf("FormatNumber(%v) = %q, strconv %q", x, s, want)
			}
		}
	})
}

func BenchmarkAppendNumber(b *testing.B) {
	for _, c := range []struct {
		name string
		in   float64
	}{
		{"integer", 1234567},
		{"fraction", 0.1 + 0.2},
		{"exponent", 1e100},
		{"tie", 123456789012345},
	} {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendNumber(buf[:0], c.in)
			}
		})
	}
}

func BenchmarkParseNumber(b *testing.B) {
	for _, s := range []string{"12345", "3.14159", "0x1f", "18446744073709551615"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := ParseNumber(s); !ok {
					b.Fatal("no number")
				}
			}
		})
	}
}
