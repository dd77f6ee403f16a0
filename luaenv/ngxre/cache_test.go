package ngxre

import (
	"fmt"
	"sync"
	"testing"
)

func TestCacheHitsDoNotCompile(t *testing.T) {
	tests := []struct {
		name     string
		code     string
		compiles int64
		entries  int
	}{
		{"same pattern and options",
			`for i = 1, 20 do ngx.re.find("a b", [[\S+]], "jo") end`, 1, 1},
		{"j and o do not split entries",
			`ngx.re.find("a", "a", "jo") ngx.re.find("a", "a", "o") ngx.re.find("a", "a", "j") ngx.re.find("a", "a")`, 1, 1},
		{"options that change matching do",
			`ngx.re.find("a", "a", "i") ngx.re.find("a", "a", "m") ngx.re.find("a", "a")`, 3, 3},
		{"every function shares the cache",
			`local re = require "ngx.re"
			 ngx.re.match("a", ",") ngx.re.find("a", ",") ngx.re.gsub("a", ",", "") ngx.re.gmatch("a", ",") re.split("a", ",")`, 1, 1},
		{"compile errors are not cached",
			`ngx.re.find("a", "(") ngx.re.find("a", "(")`, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCache(DefaultCacheEntries)
			L := newState(t, c)
			if err := L.DoString(tc.code); err != nil {
				t.Fatal(err)
			}
			if got := c.compiles.Load(); got != tc.compiles {
				t.Errorf("compiles = %d, want %d", got, tc.compiles)
			}
			if got := c.Len(); got != tc.entries {
				t.Errorf("Len = %d, want %d", got, tc.entries)
			}
		})
	}
}

func TestCacheHitAllocatesNothing(t *testing.T) {
	c := NewCache(16)
	if _, err := c.get(`\S+`, 0, true); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.get(`\S+`, 0, true); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("cache hit allocates %v times", allocs)
	}
}

func TestCacheBounds(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		once    int // distinct patterns looked up with "o"
		plain   int // distinct patterns looked up without "o"
		entries int
	}{
		{"o patterns fill the cache", 4, 6, 0, 4},
		{"plain patterns fill only half", 4, 0, 6, 2},
		{"o patterns still fit after plain ones", 4, 3, 6, 4},
		{"disabled", 0, 3, 3, 0},
		{"negative disables", -1, 3, 3, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCache(tc.max)
			for i := 0; i < tc.plain; i++ {
				if _, err := c.get(fmt.Sprintf("p%d", i), 0, false); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < tc.once; i++ {
				if _, err := c.get(fmt.Sprintf("o%d", i), 0, true); err != nil {
					t.Fatal(err)
				}
			}
			if got := c.Len(); got != tc.entries {
				t.Errorf("Len = %d, want %d", got, tc.entries)
			}
		})
	}
}

func TestCacheFullStillWorks(t *testing.T) {
	c := NewCache(1)
	L := newState(t, c)
	got := runLua(L, `ngx.re.find("x", "x", "o")
		local a = ngx.re.match("abc", "b", "o")[0]
		local b = ngx.re.match("abc", "c", "o")[0]
		return a, b`)
	if got != `"b" | "c"` || c.Len() != 1 {
		t.Errorf("got %s with %d entries", got, c.Len())
	}
}

func TestNilCache(t *testing.T) {
	L := newState(t, nil)
	if got := runLua(L, `return ngx.re.find("a,b", ",", "jo")`); got != "2 | 2" {
		t.Errorf("got %s", got)
	}
}

// TestCacheConcurrentStates runs several LStates over one cache at once, as
// a server does; run it with -race.
func TestCacheConcurrentStates(t *testing.T) {
	c := NewCache(8)
	const workers = 4
	var wg sync.WaitGroup
	results := make([]string, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			L := newState(t, c)
			results[w] = runLua(L, `
				local re = require "ngx.re"
				local n = 0
				for i = 1, 50 do
					local t = re.split("set k"..(i % 12).." 0 0 5", " +", "jo")
					local m = ngx.re.match(t[2], [[k(\d+)]], "jo")
					local s = ngx.re.gsub(t[2], "k(" .. (i % 12) .. ")", "<$1>")
					local b = ngx.re.find("foo bar", [[\bbar]], "o", {pos = 2})
					if #t == 5 and m[1] == tostring(i % 12) and s == "<" .. (i % 12) .. ">" and b == 5 then n = n + 1 end
				end
				return n`)
		}(w)
	}
	wg.Wait()
	for w, r := range results {
		if r != "50" {
			t.Errorf("worker %d: %s", w, r)
		}
	}
	if c.Len() > 8 {
		t.Errorf("cache grew past its bound: %d", c.Len())
	}
}
