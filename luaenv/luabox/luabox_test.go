package luabox

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// TestValuesAreLuaStrings checks that a boxed value behaves as an ordinary
// LString everywhere gopher-lua and Go look at it: type switches,
// interface equality, table keys and Lua code.
func TestValuesAreLuaStrings(t *testing.T) {
	var b Boxer
	long := strings.Repeat("x", MaxLen+1)
	for _, s := range []string{"", "get", "key:12345", long} {
		v := b.String(s)
		if ls, ok := v.(lua.LString); !ok || string(ls) != s {
			t.Fatalf("String(%q) = %#v", s, v)
		}
		if v != lua.LValue(lua.LString(s)) {
			t.Errorf("String(%q) != LString(%q) as interfaces", s, s)
		}
		if v.Type() != lua.LTString || v.String() != s {
			t.Errorf("String(%q): type %v, String() %q", s, v.Type(), v.String())
		}
		if w := b.Bytes([]byte(s)); w != v {
			t.Errorf("Bytes(%q) = %#v", s, w)
		}
	}

	L := lua.NewState()
	defer L.Close()
	tab := L.NewTable()
	L.SetTable(tab, b.String("k"), b.String("v"))
	L.SetGlobal("t", tab)
	L.SetGlobal("k", b.Bytes([]byte("k")))
	L.SetGlobal("long", b.String(long))
	if err := L.DoString(`
		assert(t.k == "v", "boxed key and value")
		assert(t[k] == "v", "boxed key from Lua")
		assert(k == "k" and #k == 1 and k .. "!" == "k!")
		assert(#long == ` + fmt.Sprint(MaxLen+1) + `)
	`); err != nil {
		t.Fatal(err)
	}
}

// TestValuesAreLuaNumbers does for numbers what TestValuesAreLuaStrings
// does for strings.
func TestValuesAreLuaNumbers(t *testing.T) {
	var b Boxer
	for _, f := range []float64{0, 1, -2.5, 1 << 53, 18446744073709551615} {
		v := b.Number(f)
		if n, ok := v.(lua.LNumber); !ok || float64(n) != f {
			t.Fatalf("Number(%v) = %#v", f, v)
		}
		if v != lua.LValue(lua.LNumber(f)) || v.Type() != lua.LTNumber {
			t.Errorf("Number(%v) differs from LNumber(%v) as an interface", f, f)
		}
	}
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("n", b.Number(42))
	if err := L.DoString(`assert(n == 42 and n + 1 == 43 and type(n) == "number")`); err != nil {
		t.Fatal(err)
	}
}

// TestPagedAllocation is the point of the package: short strings cost a
// header page per PageLen values, long ones an allocation each.
func TestPagedAllocation(t *testing.T) {
	var b Boxer
	s := "key:12345"
	var sink lua.LValue
	if a := testing.AllocsPerRun(10*PageLen, func() { sink = b.String(s) }); a > 0.05 {
		t.Errorf("String of a short string: %v allocations each, want about 1/%d", a, PageLen)
	}
	if a := testing.AllocsPerRun(10*PageLen, func() { sink = b.Number(1e15) }); a > 0.05 {
		t.Errorf("Number: %v allocations each, want about 1/%d", a, PageLen)
	}
	long := strings.Repeat("x", MaxLen+1)
	if a := testing.AllocsPerRun(100, func() { sink = b.String(long) }); a != 1 {
		t.Errorf("String of a long string: %v allocations, want 1", a)
	}
	_ = sink
}

// TestSurvivesCollection keeps only the boxed values, collects, churns the
// heap and checks every value still reads as written: a header page or a
// string freed too early would show as changed bytes here.
func TestSurvivesCollection(t *testing.T) {
	var b Boxer
	vals := make([]lua.LValue, 5000)
	nums := make([]lua.LValue, len(vals))
	for i := range vals {
		vals[i] = b.Bytes([]byte(fmt.Sprintf("key:%06d", i)))
		nums[i] = b.Number(float64(i) + 0.5)
		if i%1000 == 999 {
			b.Reset()
		}
	}
	for round := 0; round < 3; round++ {
		runtime.GC()
		junk := make([][]byte, 0, 10000)
		for i := 0; i < 10000; i++ {
			junk = append(junk, []byte(fmt.Sprintf("junk:%06d", i)))
		}
		runtime.KeepAlive(junk)
	}
	for i, v := range vals {
		if want := fmt.Sprintf("key:%06d", i); v.String() != want {
			t.Fatalf("value %d = %q after collection, want %q", i, v.String(), want)
		}
		if nums[i] != lua.LValue(lua.LNumber(float64(i)+0.5)) {
			t.Fatalf("number %d = %v after collection", i, nums[i])
		}
	}
}
