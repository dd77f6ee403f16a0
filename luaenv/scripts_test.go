package luaenv

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"

	lua "github.com/yuin/gopher-lua"
)

func TestExpandPackagePath(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty is the bundled path", "", DefaultPackagePath},
		{"double semicolon splices", "lib/?.lua;;", "lib/?.lua;" + DefaultPackagePath},
		{"no splice keeps the user path", "lib/?.lua", "lib/?.lua"},
		{"splice in the middle", "a/?.lua;;b/?.lua", "a/?.lua;" + DefaultPackagePath + ";b/?.lua"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ExpandPackagePath(c.in); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestCompileErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"syntax", "local a = 1\nlocal b = = 2\n", "f.lua:2: "},
		{"unexpected eof", "if x then\n", "f.lua: "},
		{"bad goto", "goto nowhere\n", "f.lua:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.src, "f.lua")
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("want a *SyntaxError, got %v", err)
			}
			if !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q should start with %q and be one line", err, c.want)
			}
		})
	}
}

func TestFindServesBundledAndReportsMisses(t *testing.T) {
	fs := fstest.MapFS{"resty/x.lua": {Data: []byte("return 1")}, "resty/bad.lua": {Data: []byte("return = 1")}}
	s := NewScripts("", fs)
	if file, _, err := s.Find(s.Path(), "resty.x"); err != nil || file != BundledPrefix+"resty/x.lua" {
		t.Fatalf("bundled module: %q %v", file, err)
	}
	if _, _, err := s.Find(s.Path(), "resty.nope"); !errors.Is(err, errNoModule) {
		t.Fatalf("missing module: %v", err)
	}
	var se *SyntaxError
	if _, _, err := s.Find(s.Path(), "resty.bad"); !errors.As(err, &se) {
		t.Fatalf("broken module: %v", err)
	}
	if got := len(s.PathFiles()); got != 2 {
		t.Fatalf("PathFiles found %d files, want 2", got)
	}
}

// FuzzSplitWords checks receive_command's tokenizer against a plain
// reference: the words are exactly strings.Fields on spaces only, and stale
// entries of a previous longer line are cleared.
func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{"", "get k", "  set  k 0 0 5  ", "a\tb c", "x", "     ", "get a b c d e f g h"} {
		f.Add(s)
	}
	env, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	v := env.get()
	f.Fuzz(func(t *testing.T, line string) {
		tbl := v.L.NewTable()
		for i := 1; i <= 40; i++ {
			tbl.RawSetInt(i, lua.LString("stale"))
		}
		n := v.splitWords(tbl, []byte(line))
		want := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' })
		if n != len(want) {
			t.Fatalf("%q: %d words, want %d", line, n, len(want))
		}
		for i, w := range want {
			if got := tbl.RawGetInt(i + 1).String(); got != w {
				t.Fatalf("%q: word %d is %q, want %q", line, i+1, got, w)
			}
		}
		if tbl.RawGetInt(n+1) != lua.LNil {
			t.Fatalf("%q: entry %d not cleared", line, n+1)
		}
	})
}

// The words of the usual command lines must not share a slot of the
// recent-words cache, or each such line would hash into the words map.
func TestRecentSlotsApart(t *testing.T) {
	for _, line := range [][]string{
		{"get", "gets", "set", "0", "32", "900"},
		{"set", "add", "0", "1", "4096", "noreply"},
		{"get", "set", "delete", "incr", "1"},
	} {
		seen := map[int]string{}
		for _, w := range line {
			i := recentSlot([]byte(w))
			if o, ok := seen[i]; ok {
				t.Errorf("%q and %q share slot %d", o, w, i)
			}
			seen[i] = w
		}
	}
}
