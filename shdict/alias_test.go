package shdict

import (
	"testing"
	"time"
)

// Get returns string values that alias the entry's buffer (no copy); every
// write path must copy the buffer first. Each case reads a value, changes
// the entry in a way that rewrites it in place, and checks the string read
// before is unchanged.
func TestGetStringsAreImmutable(t *testing.T) {
	cases := []struct {
		name  string
		first string
		write func(d *Dict) error
	}{
		{"set same size", "aaaa", func(d *Dict) error { _, err := d.Set("k", String("bbbb"), 0, 0); return err }},
		{"replace same size", "aaaa", func(d *Dict) error { _, err := d.Replace("k", String("cccc"), 0, 0); return err }},
		{"set number", "aaaaaaaa", func(d *Dict) error { _, err := d.Set("k", Number(1.5), 0, 0); return err }},
		{"append in place", "aaaa", func(d *Dict) error { _, err := d.Append("k", "x"); return err }},
		{"prepend in place", "aaaa", func(d *Dict) error { _, err := d.Prepend("k", "x"); return err }},
		{"incr decimal", "1000", func(d *Dict) error { _, err := d.IncrDecimal("k", 1, false); return err }},
		{"decr decimal pads", "1000", func(d *Dict) error { _, err := d.IncrDecimal("k", 1, true); return err }},
		{"cas same size", "aaaa", func(d *Dict) error {
			it, _, _ := d.Get("k")
			_, err := d.CompareAndSwap("k", String("dddd"), 0, 0, it.CAS)
			return err
		}},
		{"delete and reuse", "aaaa", func(d *Dict) error {
			d.Delete("k")
			_, err := d.Set("k2", String("eeee"), time.Hour, 0)
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := New("alias", 1<<20, Options{Shards: 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Set("k", String(c.first), 0, 0); err != nil {
				t.Fatal(err)
			}
			it, _, _ := d.Get("k")
			before := it.Str
			again, _, _ := d.Get("k") // a second view of the same buffer
			if err := c.write(d); err != nil {
				t.Fatal(err)
			}
			if before != c.first || again.Str != c.first {
				t.Fatalf("a string returned by Get changed to %q / %q after the write; want %q", before, again.Str, c.first)
			}
			if _, err := d.Set("k", String(c.first), 0, 0); err != nil {
				t.Fatal(err)
			}
			if before != c.first {
				t.Fatalf("changed after a later set: %q", before)
			}
		})
	}
}
