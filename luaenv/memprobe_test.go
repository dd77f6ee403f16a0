package luaenv

import (
	"io"
	"log/slog"
	"runtime"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/streamlua/streamlua/scripts"
	"github.com/streamlua/streamlua/shdict"
)

// BenchmarkStateMemory reports the heap one pooled LState holds, bare and
// with the bundled memcached modules loaded: with one state per
// connection, this is most of what an idle connection costs.
//
//	go test ./luaenv -run '^$' -bench StateMemory -benchtime 1x
func BenchmarkStateMemory(b *testing.B) {
	d, _ := shdict.New("memcached", 1<<20, shdict.Options{})
	env, err := New(Config{Bundled: scripts.FS, Dicts: []*shdict.Dict{d}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	measure := func(f func(v *vm)) float64 {
		const n = 200
		vs := make([]*vm, 0, n)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < n; i++ {
			v := newVM(env, env.gen.Load(), i)
			f(v)
			vs = append(vs, v)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(vs)
		return float64(after.HeapAlloc-before.HeapAlloc) / n / 1024
	}
	b.ReportMetric(measure(func(*vm) {}), "KiB/bare-state")
	b.ReportMetric(measure(func(v *vm) {
		if err := v.L.CallByParam(lua.P{Fn: v.L.GetGlobal("require"), NRet: 1, Protect: true}, lua.LString("resty.memcached.server")); err != nil {
			b.Fatal(err)
		}
	}), "KiB/memcached-state")
}
