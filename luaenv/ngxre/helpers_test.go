package ngxre

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// newState returns a fresh LState with ngx.re and require "ngx.re" wired to c.
func newState(t testing.TB, c *Cache) *lua.LState {
	t.Helper()
	L := lua.NewState()
	t.Cleanup(L.Close)
	ngx := L.NewTable()
	re := L.NewTable()
	Open(L, re, c)
	ngx.RawSetString("re", re)
	L.SetGlobal("ngx", ngx)
	L.PreloadModule("ngx.re", Loader(c))
	return L
}

// runLua executes code and renders everything it returns, joined by " | ".
// A raised error renders as "error: <message>".
func runLua(L *lua.LState, code string) string {
	top := L.GetTop()
	defer L.SetTop(top)
	if err := L.DoString(code); err != nil {
		if apiErr, ok := err.(*lua.ApiError); ok {
			return "error: " + apiErr.Object.String()
		}
		return "error: " + err.Error()
	}
	var parts []string
	for i := top + 1; i <= L.GetTop(); i++ {
		parts = append(parts, render(L.Get(i), 0))
	}
	return strings.Join(parts, " | ")
}

// render prints a Lua value deterministically: strings quoted, numbers as
// LuaJIT would, tables as {k=v, ...} with numeric keys first.
func render(v lua.LValue, depth int) string {
	switch x := v.(type) {
	case *lua.LNilType:
		return "nil"
	case lua.LBool:
		return strconv.FormatBool(bool(x))
	case lua.LString:
		return strconv.Quote(string(x))
	case lua.LNumber:
		return formatNumber(float64(x))
	case *lua.LFunction:
		return "function"
	case *lua.LTable:
		if depth > 3 {
			return "{...}"
		}
		type kv struct {
			num   float64
			isNum bool
			str   string
			val   string
		}
		var items []kv
		x.ForEach(func(k, val lua.LValue) {
			item := kv{val: render(val, depth+1)}
			if n, ok := k.(lua.LNumber); ok {
				item.num, item.isNum = float64(n), true
			} else {
				item.str = k.String()
			}
			items = append(items, item)
		})
		slices.SortFunc(items, func(a, b kv) int {
			switch {
			case a.isNum && b.isNum:
				return int(a.num - b.num)
			case a.isNum:
				return -1
			case b.isNum:
				return 1
			}
			return strings.Compare(a.str, b.str)
		})
		parts := make([]string, len(items))
		for i, it := range items {
			if it.isNum {
				parts[i] = fmt.Sprintf("%s=%s", formatNumber(it.num), it.val)
			} else {
				parts[i] = fmt.Sprintf("%s=%s", it.str, it.val)
			}
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return v.Type().String()
}

// luaCase is one Lua snippet and the rendering of what it returns.
type luaCase struct {
	name string
	code string
	want string
}

func runCases(t *testing.T, cases []luaCase) {
	t.Helper()
	c := NewCache(DefaultCacheEntries)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			L := newState(t, c)
			if got := runLua(L, tc.code); got != tc.want {
				t.Errorf("code:\n%s\ngot:  %s\nwant: %s", tc.code, got, tc.want)
			}
		})
	}
}
