package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name        string
		live, floor int64
		want        int
	}{
		{"no floor", 10 * mib, 0, 100},
		{"live already half the floor", 32 * mib, 64 * mib, 100},
		{"live past the floor", 200 * mib, 64 * mib, 100},
		{"small live heap", 16 * mib, 64 * mib, 300},
		{"next cycle at the floor", 13 * mib, 64 * mib, 392},
		{"just under half", 31 * mib, 64 * mib, 106},
		{"tiny heap is capped", 2 * mib, 1 << 30, maxGCPercent},
		{"unread heap counts as 1 MiB", 0, 11 * mib, 1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := gcPercentFor(c.live, c.floor); got != c.want {
				t.Fatalf("gcPercentFor(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
			}
		})
	}
}

func TestGCPacerStep(t *testing.T) {
	const mib = 1 << 20
	var set []int
	live := int64(16 * mib)
	p := &gcPacer{
		floor:   64 * mib,
		setGC:   func(v int) int { set = append(set, v); return 0 },
		live:    func() int64 { return live },
		current: minGCPercent,
	}
	steps := []struct {
		live int64
		want []int // every GOGC set so far
	}{
		{16 * mib, []int{300}},
		{16*mib + mib/4, []int{300}},          // 293: within a tenth, left alone
		{20 * mib, []int{300, 220}},           // moved by more than a tenth
		{31 * mib, []int{300, 220, 106}},      // far enough
		{33 * mib, []int{300, 220, 106, 100}}, // back to the default, always set
		{40 * mib, []int{300, 220, 106, 100}}, // stays there
	}
	for i, s := range steps {
		live = s.live
		p.step()
		if len(set) != len(s.want) {
			t.Fatalf("step %d (live %d): GOGC set %v, want %v", i, s.live, set, s.want)
		}
		for j := range set {
			if set[j] != s.want[j] {
				t.Fatalf("step %d (live %d): GOGC set %v, want %v", i, s.live, set, s.want)
			}
		}
	}
}

func TestGCFloor(t *testing.T) {
	caps := map[string]int64{"a": 100 << 20, "b": 28 << 20}
	cases := []struct {
		name, flag, gogc string
		floor            int64
		source, err      string
	}{
		{"dictionary caps", "", "", 128 << 20, "dictionary caps", ""},
		{"GOGC set", "", "200", 0, "GOGC", ""},
		{"flag", "32m", "", 32 << 20, "--gc-floor", ""},
		{"flag beats GOGC", "1g", "50", 1 << 30, "--gc-floor", ""},
		{"off", "off", "", 0, "--gc-floor", ""},
		{"zero", "0", "", 0, "--gc-floor", ""},
		{"bad size", "lots", "", 0, "--gc-floor", "--gc-floor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOGC", c.gogc)
			cmd := &cobra.Command{}
			var v string
			cmd.Flags().StringVar(&v, "gc-floor", "", "")
			if c.flag != "" {
				if err := cmd.Flags().Set("gc-floor", c.flag); err != nil {
					t.Fatal(err)
				}
			}
			floor, source, err := gcFloor(cmd, v, caps)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("want an error naming %q, got %v", c.err, err)
				}
				return
			}
			if err != nil || floor != c.floor || source != c.source {
				t.Fatalf("gcFloor = %d, %q, %v; want %d, %q", floor, source, err, c.floor, c.source)
			}
		})
	}
}
