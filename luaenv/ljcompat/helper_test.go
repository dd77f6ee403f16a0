package ljcompat

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// newState builds a state the way the host does: only the base, package,
// table, string and math libraries, then Open.
func newState(t testing.TB) *lua.LState {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	Open(L)
	t.Cleanup(L.Close)
	return L
}

// driver runs a chunk body and renders its results (or its error) as one
// line; the same text runs under LuaJIT in the differential test.
const driver = `
local function pack(...) return select('#', ...), {...} end
local n, r = pack(pcall(function() %s
end))
if not r[1] then return "error: " .. tostring(r[2]) end
local out = {}
for i = 2, n do out[#out + 1] = tostring(r[i]) end
return table.concat(out, "\t")
`

// eval runs code (a chunk body that returns values) and returns the
// rendered results.
func eval(t testing.TB, L *lua.LState, code string) string {
	t.Helper()
	if err := L.DoString(strings.Replace(driver, "%s", code, 1)); err != nil {
		return "fatal: " + err.Error()
	}
	s := L.Get(-1).String()
	L.Pop(1)
	return s
}

func lnum(f float64) lua.LNumber { return lua.LNumber(f) }

func lstr(s string) lua.LString { return lua.LString(s) }
