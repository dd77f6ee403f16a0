package luanum

import (
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestInt(t *testing.T) {
	for _, n := range []int{0, 1, 42, Max, Max + 1, 1 << 40, -1} {
		if got := Int(n); got != lua.LNumber(n) {
			t.Errorf("Int(%d) = %v", n, got)
		}
	}
	for _, n := range []uint64{0, 7, Max, Max + 1, 1 << 52} {
		if got := Uint(n); got != lua.LNumber(n) {
			t.Errorf("Uint(%d) = %v", n, got)
		}
	}
}

// TestNoAllocation is the point of the package: small numbers come boxed.
func TestNoAllocation(t *testing.T) {
	var sink lua.LValue
	if a := testing.AllocsPerRun(100, func() { sink = Int(500); sink = Uint(9) }); a != 0 {
		t.Errorf("Int/Uint of small numbers: %v allocations, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { sink = Int(Max + 1000) }); a != 1 {
		t.Errorf("Int of a large number: %v allocations, want 1 (the check is real)", a)
	}
	_ = sink
}
