package luaenv

import (
	"io"
	"log/slog"
	"testing"

	"github.com/streamlua/streamlua/scripts"
)

// TestPoolTrim checks that trimming gives back half of the states that
// stayed idle for a whole period, keeps poolFloor, and spares the states
// that were in use.
func TestPoolTrim(t *testing.T) {
	e, err := New(Config{Bundled: scripts.FS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	pool := func() int {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.idle)
	}
	vs := make([]*vm, 100)
	for i := range vs {
		vs[i] = e.get()
	}
	for _, v := range vs {
		e.put(v)
	}
	e.mu.Lock()
	armed := e.trimmer
	e.mu.Unlock()
	if !armed {
		t.Fatal("a pool above the floor has no trim scheduled")
	}
	// The states came back during this period: a trim now gives back only
	// half of the 17 the pool held when the period began.
	e.trimPool()
	if got := pool(); got != 92 {
		t.Fatalf("after a busy period the pool holds %d states, want 92 (100 - 17/2)", got)
	}
	// 40 states are taken and given back during the next period: only the
	// 52 never taken count as unused.
	for i := 0; i < 40; i++ {
		vs[i] = e.get()
	}
	for i := 0; i < 40; i++ {
		e.put(vs[i])
	}
	e.trimPool()
	if got := pool(); got != 66 {
		t.Fatalf("after a trim the pool holds %d states, want 66 (92 - 52/2)", got)
	}
	for _, want := range []int{33, 17, 16, 16} {
		e.trimPool()
		if got := pool(); got != want {
			t.Fatalf("pool holds %d states, want %d", got, want)
		}
	}
	e.mu.Lock()
	armed = e.trimmer
	e.mu.Unlock()
	if armed {
		t.Fatal("a pool at the floor still schedules trims")
	}
	// What is left still works.
	v := e.get()
	if err := v.L.DoString(`return 1`); err != nil {
		t.Fatal(err)
	}
	e.put(v)
}
