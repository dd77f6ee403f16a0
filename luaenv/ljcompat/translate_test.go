package ljcompat

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestTranslateSource(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want string
	}{
		{"no backslash", `return "abc"`, `return "abc"`},
		{"hex escape", `return "\x41\x62"`, `return "\065\098"`},
		{"hex escape before digit", `return "\x411"`, `return "\0651"`},
		{"single quotes", `return '\xff'`, `return '\255'`},
		{"other escapes kept", `return "\n\t\\\"\065"`, `return "\n\t\\\"\065"`},
		{"escaped backslash then x", `return "\\x41"`, `return "\\x41"`},
		{"z skips whitespace", "return \"a\\z  \n\t  b\"", `return "ab"`},
		{"unicode", `return "\u{41}\u{e9}\u{20AC}\u{1F600}"`, `return "\065\195\169\226\130\172\240\159\152\128"`},
		{"long string untouched", `return [[\x41]], [==[\x41]]\x41]==]`, `return [[\x41]], [==[\x41]]\x41]==]`},
		{"comment untouched", "-- \"\\x41\"\nreturn \"\\x41\"", "-- \"\\x41\"\nreturn \"\\065\""},
		{"long comment untouched", "--[[ \"\\x41\" ]] return \"\\x42\"", "--[[ \"\\x41\" ]] return \"\\066\""},
		{"quote inside other quotes", `return "it's \x41", 'say "\x42"'`, `return "it's \065", 'say "\066"'`},
		{"index brackets are not long strings", `local t = {} t[ "\x41" ] = 1 return t["A"]`, `local t = {} t[ "\065" ] = 1 return t["A"]`},
		{"unterminated string left alone", "return \"\\x41\nreturn 1", "return \"\\065\nreturn 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := TranslateSource(c.in)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if got != c.want {
				t.Errorf("TranslateSource(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}

func TestTranslateSourceErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		line string
	}{
		{"one hex digit", `return "\x4"`, "line 1"},
		{"non-hex", `return "\xzz"`, "line 1"},
		{"unicode without brace", "\nreturn \"\\u41\"", "line 2"},
		{"unicode too large", `return "\u{110000}"`, "line 1"},
		{"unicode unclosed", `return "\u{41"`, "line 1"},
		{"unicode empty", `return "\u{}"`, "line 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := TranslateSource(c.in)
			if !errors.Is(err, ErrBadEscape) || !strings.Contains(err.Error(), c.line) {
				t.Errorf("error = %v, want ErrBadEscape at %s", err, c.line)
			}
		})
	}
}

// TestTranslatedSourceRuns checks the meaning, not the text: the
// translated chunk evaluates to the bytes the escapes stand for.
func TestTranslatedSourceRuns(t *testing.T) {
	L := newState(t)
	src, err := TranslateSource(`return "\x00\x7f\x80\xff" .. '\z
	    end' .. "\u{10FFFF}"`)
	if err != nil {
		t.Fatal(err)
	}
	if err := L.DoString(src); err != nil {
		t.Fatal(err)
	}
	if got, want := L.Get(-1).String(), "\x00\x7f\x80\xffend\xf4\x8f\xbf\xbf"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// escapedLiteral writes the bytes of s as a Lua string literal, choosing at
// random among raw bytes (where safe), \x, \u and decimal escapes and
// inserting \z line breaks.
func escapedLiteral(r *rand.Rand, s []byte) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch k := r.IntN(5); {
		case k == 0 && c >= 0x20 && c < 0x7f && c != '"' && c != '\\':
			b.WriteByte(c)
		case k == 1 && c < 0x80:
			fmt.Fprintf(&b, `\u{%x}`, c)
		case k == 2:
			fmt.Fprintf(&b, `\%03d`, c)
		case k == 3:
			b.WriteString("\\z \n\t ")
			fmt.Fprintf(&b, `\x%02X`, c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func FuzzTranslateSource(f *testing.F) {
	f.Add([]byte("abc"), uint64(1))
	f.Add([]byte{0, 255, '"', '\\', '\n'}, uint64(2))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		// Any input: no panic, and a successful result is stable.
		out, err := TranslateSource(string(data))
		if err == nil {
			again, err2 := TranslateSource(out)
			if err2 != nil || again != out {
				t.Fatalf("not idempotent: %q -> %q -> %q (%v)", data, out, again, err2)
			}
		}
		// A literal built from data with random escapes means data.
		r := rand.New(rand.NewPCG(seed, 7))
		src, err := TranslateSource("return " + escapedLiteral(r, data))
		if err != nil {
			t.Fatalf("TranslateSource: %v", err)
		}
		L := lua.NewState(lua.Options{SkipOpenLibs: true})
		defer L.Close()
		if err := L.DoString(src); err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if got := L.Get(-1).String(); got != string(data) {
			t.Fatalf("%q evaluates to %q, want %q", src, got, data)
		}
	})
}

// TestTranslateAgainstLuaJIT checks escapedLiteral itself: LuaJIT reads the
// untranslated literals as the same bytes.
func TestTranslateAgainstLuaJIT(t *testing.T) {
	bin := luajitPath(t)
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20; i++ {
		data := make([]byte, r.IntN(20))
		for j := range data {
			data[j] = byte(r.IntN(256))
		}
		lit := escapedLiteral(r, data)
		out, err := exec.Command(bin, "-e", "io.write("+lit+")").Output()
		if err != nil {
			t.Fatalf("luajit on %q: %v", lit, err)
		}
		if string(out) != string(data) {
			t.Errorf("LuaJIT reads %q as %q, want %q", lit, out, data)
		}
	}
}

func BenchmarkTranslateSource(b *testing.B) {
	src := strings.Repeat("local s = \"line\\n\" .. 'x' -- comment\n", 200) + `return "\x41"`
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := TranslateSource(src); err != nil {
			b.Fatal(err)
		}
	}
}
