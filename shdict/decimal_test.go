package shdict

import "testing"

// FuzzParseDecimal compares parseDecimal with modelStrtoull, an
// independent model of memcached's safe_strtoull on an item's data.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range fuzzStrings {
		f.Add(s)
	}
	for _, s := range []string{"99999999999999999999", "-9223372036854775808", "-9223372036854775809", " \v\f+0x1", "1\x002", "\r\n7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gok := parseDecimal([]byte(s))
		want, wok := modelStrtoull(s)
		if got != want || gok != wok {
			t.Fatalf("parseDecimal(%q) = %d, %v; model %d, %v", s, got, gok, want, wok)
		}
	})
}
