package shdict

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The model test (model_test.go) checks Fetch, Invalidate and
// StoreCASStale one call at a time. These check the point of doing them
// under the shard lock: when many clients race for an entry's token, one
// wins it.

// raceFetch runs n concurrent Fetches of key with o and returns how many
// won the token, how many created the entry and how many saw the token
// already held.
func raceFetch(t *testing.T, d *Dict, key string, o FetchOptions, n int) (won, created, held int) {
	t.Helper()
	var w, c, h atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			it, r, found, err := d.Fetch(key, o)
			if err != nil || !found {
				t.Errorf("Fetch(%q): found %v, err %v", key, found, err)
				return
			}
			if r.Won {
				w.Add(1)
			}
			if r.Created {
				c.Add(1)
			}
			if it.Marks&MarkToken != 0 {
				h.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	return int(w.Load()), int(c.Load()), int(h.Load())
}

func TestFetchTokenRaces(t *testing.T) {
	const n = 16
	d, err := New("race", 1<<20, Options{})
	if err != nil {
		t.Fatal(err)
	}

	// Vivify on a miss: one creates the entry and wins; the rest hit it
	// and see the token taken.
	viv := FetchOptions{Steps: [3]FetchStep{StepVivify}, VivifyTTL: time.Minute}
	if w, c, h := raceFetch(t, d, "v", viv, n); w != 1 || c != 1 || h != n-1 {
		t.Errorf("vivify race: won %d, created %d, held %d; want 1, 1, %d", w, c, h, n-1)
	}

	// Recache: the entry expires within the window, one wins.
	if _, err := d.Set("r", String("x"), 10*time.Second, 0); err != nil {
		t.Fatal(err)
	}
	rec := FetchOptions{Steps: [3]FetchStep{StepRecache}, RecacheTTL: 30 * time.Second}
	if w, c, h := raceFetch(t, d, "r", rec, n); w != 1 || c != 0 || h != n-1 {
		t.Errorf("recache race: won %d, created %d, held %d; want 1, 0, %d", w, c, h, n-1)
	}
	// Outside the window nobody wins.
	if _, err := d.Set("far", String("x"), time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	if w, _, _ := raceFetch(t, d, "far", rec, n); w != 0 {
		t.Errorf("recache outside the window: %d won", w)
	}

	// Invalidate clears the token: the next race has a single winner
	// again, found by plain reads of the stale entry.
	if _, err := d.Invalidate("r", InvalidateOptions{}); err != nil {
		t.Fatal(err)
	}
	if w, _, h := raceFetch(t, d, "r", FetchOptions{}, n); w != 1 || h != n-1 {
		t.Errorf("stale race: won %d, held %d; want 1, %d", w, h, n-1)
	}
	it, _, _, _ := d.Fetch("r", FetchOptions{NoBump: true})
	if it.Marks&MarkStale == 0 || it.Str != "x" {
		t.Errorf("invalidated entry: marks %b, value %q; want stale, x", it.Marks, it.Str)
	}

	// A value stored with an older cas stays stale and keeps the token; one
	// stored with the entry's cas is a fresh value.
	if _, _, err := d.Store(StoreCASStale, "r", String("old"), 0, 0, 1); err != nil {
		t.Fatalf("StoreCASStale with an older cas: %v", err)
	}
	it, _, _, _ = d.Fetch("r", FetchOptions{NoBump: true})
	if it.Marks&(MarkStale|MarkToken) != MarkStale|MarkToken || it.Str != "old" {
		t.Errorf("after an older writer: marks %b, value %q; want stale and token kept, old", it.Marks, it.Str)
	}
	if _, _, err := d.Store(StoreCASStale, "r", String("new"), 0, 0, it.CAS); err != nil {
		t.Fatalf("StoreCASStale with the entry's cas: %v", err)
	}
	it, _, _, _ = d.Fetch("r", FetchOptions{NoBump: true})
	if it.Marks != 0 || it.Str != "new" {
		t.Errorf("after the current writer: marks %b, value %q; want none, new", it.Marks, it.Str)
	}
	if _, _, err := d.Store(StoreCASStale, "r", String("zero"), 0, 0, 0); err != ErrExists {
		t.Errorf("StoreCASStale with cas 0: %v, want ErrExists", err)
	}
}
