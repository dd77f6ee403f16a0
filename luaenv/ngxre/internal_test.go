package ngxre

import (
	"errors"
	"math"
	"testing"
)

func TestParseOpts(t *testing.T) {
	tests := []struct {
		name string
		opts string
		want flags
		once bool
		bad  byte
	}{
		{"empty", "", 0, false, 0},
		{"hints only", "jo", 0, true, 0},
		{"all semantic letters", "imsxadD", flagCaseless | flagMultiline | flagDotAll | flagExtended | flagAnchored | flagDFA | flagDupNames, false, 0},
		{"u", "u", flagUTF8, false, 0},
		{"U implies u", "U", flagUTF8 | flagNoUTFCheck, false, 0},
		{"J", "J", flagJS, false, 0},
		{"unknown letter", "ijz", 0, false, 'z'},
		{"upper-case I is unknown", "I", 0, false, 'I'},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, once, bad, ok := parseOpts(tc.opts)
			if ok != (tc.bad == 0) || bad != tc.bad {
				t.Fatalf("parseOpts(%q) ok=%v bad=%q, want bad=%q", tc.opts, ok, bad, tc.bad)
			}
			if ok && (f != tc.want || once != tc.once) {
				t.Errorf("parseOpts(%q) = %b, %v; want %b, %v", tc.opts, f, once, tc.want, tc.once)
			}
		})
	}
}

func TestTranslate(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		f       flags
		tgt     target
		want    string
		needNET bool
		ctx     bool
		dollar  bool
		err     error
	}{
		{"literal", "abc", 0, targetGo, "abc", false, false, false, nil},
		{"space class includes vertical tab", `\s`, 0, targetGo, `[\x{9}-\x{d}\x{20}]`, false, false, false, nil},
		{"negated space class", `\S`, 0, targetGo, `[^\x{9}-\x{d}\x{20}]`, false, false, false, nil},
		{"negated escape inside a class", `[\Sa]`, 0, targetGo, `[\x{0}-\x{8}\x{e}-\x{1f}!-\x{10ffff}]`, false, false, false, nil},
		{"named group loses its name", `(?<n>a)`, 0, targetGo, `(a)`, false, false, false, nil},
		{"extended mode", "a b # c\n d", flagExtended, targetGo, "abd", false, false, false, nil},
		{"extended mode keeps classes", "[ #]", flagExtended, targetGo, `[\x{20}#]`, false, false, false, nil},
		{"inline extended mode is stripped", "(?x: a )", 0, targetGo, "(?:a)", false, false, false, nil},
		{"inline flags pass through", "(?i-s)a", 0, targetGo, "(?i-s)a", false, false, false, nil},
		{"comment group", "a(?#x)b", 0, targetGo, "ab", false, false, false, nil},
		{"quote", `\Q+.\E`, 0, targetGo, `\+\.`, false, false, false, nil},
		{"caret is context sensitive", "^a", 0, targetGo, "^a", false, true, false, nil},
		{"word boundary is context sensitive", `\ba`, 0, targetGo, `\ba`, false, true, false, nil},
		{"dollar", "a$", 0, targetGo, "a$", false, false, true, nil},
		{"multiline dollar is plain", "a$", flagMultiline, targetGo, "a$", false, false, false, nil},
		{"backreference needs regexp2", `(a)\1`, 0, targetGo, `(a)\k<1>`, true, false, false, nil},
		{"possessive becomes atomic", `a++`, 0, targetNET, `(?>a+)`, false, false, false, nil},
		{"lookbehind", `(?<=a)b`, 0, targetNET, `(?<=a)b`, false, false, false, nil},
		{"word boundary for regexp2 is ASCII", `\b`, 0, targetNET, `(?:(?<=[0-9A-Z_a-z])(?![0-9A-Z_a-z])|(?<![0-9A-Z_a-z])(?=[0-9A-Z_a-z]))`, false, true, false, nil},
		{"non-ASCII for regexp2", "\u00e9", flagUTF8, targetNET, `\u00e9`, false, false, false, nil},
		{"byte mode reads bytes", "\xc3\xa9", 0, targetGo, `\x{c3}\x{a9}`, false, false, false, nil},
		{"ungreedy flips laziness", "(?U)a*b*?", 0, targetGo, "a*?b*", false, false, false, nil},
		{"literal brace", "a{,3}", 0, targetGo, `a\{,3\}`, false, false, false, nil},
		{"octal versus backreference", `\12`, 0, targetGo, `\x{a}`, false, false, false, nil},
		{"forward named reference", `\k<n>(?<n>a)`, 0, targetNET, `\k<1>(a)`, false, false, false, nil},
		{"unbalanced", "(a", 0, targetGo, "", false, false, false, ErrSyntax},
		{"stray close", "a)", 0, targetGo, "", false, false, false, ErrSyntax},
		{"nothing to repeat", "*a", 0, targetGo, "", false, false, false, ErrSyntax},
		{"range out of order", "[z-a]", 0, targetGo, "", false, false, false, ErrSyntax},
		{"unknown POSIX class", "[[:foo:]]", 0, targetGo, "", false, false, false, ErrSyntax},
		{"code point too large in byte mode", `\x{100}`, 0, targetGo, "", false, false, false, ErrSyntax},
		{"recursion", "(?R)", 0, targetGo, "", false, false, false, ErrUnsupported},
		{"keep out", `a\K`, 0, targetGo, "", false, false, false, ErrUnsupported},
		{"branch reset", "(?|a)", 0, targetGo, "", false, false, false, ErrUnsupported},
		{"verbs", "(*UTF)a", 0, targetGo, "", false, false, false, ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := translate(tc.pattern, tc.f, tc.tgt)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("translate(%q) error = %v, want %v", tc.pattern, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("translate(%q): %v", tc.pattern, err)
			}
			if tr.expr != tc.want {
				t.Errorf("translate(%q) = %q, want %q", tc.pattern, tr.expr, tc.want)
			}
			if tc.tgt == targetGo && tr.needNET != tc.needNET {
				t.Errorf("needNET = %v, want %v", tr.needNET, tc.needNET)
			}
			if tr.ctxSensitive != tc.ctx || tr.dollar != tc.dollar {
				t.Errorf("ctx, dollar = %v, %v; want %v, %v", tr.ctxSensitive, tr.dollar, tc.ctx, tc.dollar)
			}
		})
	}
}

func TestEngineChoice(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		opts    string
		fast    fastKind
		goPath  bool
	}{
		{"run of spaces", " +", "", fastRun, true},
		{"whitespace run", `\s+`, "", fastRun, true},
		{"bracketed space run", "[ ]+", "", fastRun, true},
		{"token", `\S+`, "", fastRun, true},
		{"captured token", `(\S+)`, "", fastRun, true},
		{"token in UTF-8 mode", `\S+`, "u", fastRun, true},
		{"single separator", ",", "", fastByte, true},
		{"literal", "--", "", fastLit, true},
		{"star", `\s*`, "", fastRun, true},
		{"lazy run is not fast", " +?", "", 0, true},
		{"single negated char in UTF-8 mode is not fast", `\S`, "u", 0, true},
		{"caseless letter in UTF-8 mode is not fast", "k", "iu", 0, true},
		{"caseless letter in byte mode", "k", "i", fastByte, true},
		{"anchored pattern", "^a+", "", 0, true},
		{"two groups", `(\S)(\S)`, "", 0, true},
		{"backreference", `(a)\1`, "", 0, false},
	}
	c := NewCache(0)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, once, _, _ := parseOpts(tc.opts)
			r, err := c.get(tc.pattern, f, once)
			if err != nil {
				t.Fatal(err)
			}
			var kind fastKind
			if r.fast != nil {
				kind = r.fast.kind
			}
			if kind != tc.fast {
				t.Errorf("fast kind = %d, want %d", kind, tc.fast)
			}
			if (r.goBase != nil) != tc.goPath {
				t.Errorf("Go path = %v, want %v", r.goBase != nil, tc.goPath)
			}
		})
	}
}

func TestFastMatcherFind(t *testing.T) {
	tests := []struct {
		name     string
		pattern  string
		anchored bool
		subj     string
		pos      int
		start    int
		end      int
		ok       bool
	}{
		{"run", " +", false, "a  b", 0, 1, 3, true},
		{"run from offset", " +", false, "a b c", 2, 3, 4, true},
		{"run none", " +", false, "abc", 0, 0, 0, false},
		{"anchored run", " +", true, "a b", 0, 0, 0, false},
		{"star matches empty at pos", `\s*`, false, "ab", 1, 1, 1, true},
		{"byte", ",", false, "a,b", 0, 1, 2, true},
		{"literal", "ab", false, "xxab", 1, 2, 4, true},
		{"anchored literal", "ab", true, "xab", 1, 1, 3, true},
		{"token with high bytes", `\S+`, false, " \xff\x00x ", 0, 1, 4, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := compile(tc.pattern, 0)
			if err != nil || r.fast == nil {
				t.Fatalf("compile(%q): fast=%v err=%v", tc.pattern, r != nil && r.fast != nil, err)
			}
			start, end, ok := r.fast.find(tc.subj, tc.pos, tc.anchored)
			if ok != tc.ok || (ok && (start != tc.start || end != tc.end)) {
				t.Errorf("find = %d, %d, %v; want %d, %d, %v", start, end, ok, tc.start, tc.end, tc.ok)
			}
		})
	}
}

func TestTemplates(t *testing.T) {
	tests := []struct {
		name  string
		tpl   string
		valid bool
		want  string // expansion against "xaby" matched by "a(b)"
	}{
		{"plain", "z", true, "z"},
		{"whole match", "<$0>", true, "<ab>"},
		{"group", "$1$1", true, "bb"},
		{"braced", "${1}1", true, "b1"},
		{"dollar", "$$1", true, "$1"},
		{"missing group", "[$2]", true, "[]"},
		{"lone dollar", "$", false, ""},
		{"open brace", "${", false, ""},
		{"unclosed", "${1", false, ""},
		{"named", "$name", false, ""},
		{"braced name", "${name}", false, ""},
		{"empty braces", "${}", false, ""},
		{"punctuation", "$.", false, ""},
	}
	caps := []int{1, 3, 2, 3}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := validTemplate(tc.tpl); got != tc.valid {
				t.Fatalf("validTemplate(%q) = %v", tc.tpl, got)
			}
			if tc.valid {
				if got := string(expandTemplate(nil, tc.tpl, "xaby", caps)); got != tc.want {
					t.Errorf("expand(%q) = %q, want %q", tc.tpl, got, tc.want)
				}
			}
		})
	}
}

func TestUTF8ErrorCode(t *testing.T) {
	tests := []struct {
		name string
		s    string
		want int
	}{
		{"valid", "héllo €𝄞", 0},
		{"one byte missing", "\xc3", -3},
		{"two bytes missing", "\xe2", -4},
		{"second byte not continuation", "\xc3a", -8},
		{"third byte not continuation", "\xe2\x82a", -9},
		{"five-byte form", "\xf8\x88\x80\x80\x80", -13},
		{"above U+10FFFF", "\xf4\x90\x80\x80", -15},
		{"surrogate", "\xed\xa0\x80", -16},
		{"overlong two-byte", "\xc0\x80", -17},
		{"overlong three-byte", "\xe0\x80\x80", -18},
		{"isolated continuation", "\x80", -22},
		{"0xff", "\xff", -23},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := utf8ErrorCode(tc.s); got != tc.want {
				t.Errorf("utf8ErrorCode(%q) = %d, want %d", tc.s, got, tc.want)
			}
		})
	}
}

func TestFormatNumber(t *testing.T) {
	tests := []struct {
		name string
		f    float64
		want string
	}{
		{"integer", 42, "42"},
		{"negative", -7, "-7"},
		{"fourteen digits", 99999999999999, "99999999999999"},
		{"1e15", 1e15, "1e+15"},
		{"third", 1.0 / 3, "0.33333333333333"},
		{"sum", 0.1 + 0.2, "0.3"},
		{"incr drift", 56 + 150*2.1, "371"},
		{"small", 1e-5, "1e-05"},
		{"negative zero", math.Copysign(0, -1), "-0"},
		{"inf", math.Inf(1), "inf"},
		{"-inf", math.Inf(-1), "-inf"},
		{"nan", math.NaN(), "nan"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatNumber(tc.f); got != tc.want {
				t.Errorf("formatNumber(%v) = %q, want %q", tc.f, got, tc.want)
			}
		})
	}
}

func TestLuaSub(t *testing.T) {
	tests := []struct {
		name string
		i, j int
		want string
	}{
		{"whole", 1, -1, "hello"},
		{"middle", 2, 3, "el"},
		{"zero start", 0, 2, "he"},
		{"negative start", -3, -1, "llo"},
		{"very negative start", -10, 2, "he"},
		{"end past length", 4, 10, "lo"},
		{"empty", 3, 2, ""},
		{"start past length", 9, -1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := luaSub("hello", tc.i, tc.j); got != tc.want {
				t.Errorf("luaSub(hello, %d, %d) = %q, want %q", tc.i, tc.j, got, tc.want)
			}
		})
	}
}

// TestPatternSemantics runs compile+exec directly over the escape, class,
// property and group forms, comparing the whole match (or the error kind).
func TestPatternSemantics(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		opts    string
		subj    string
		want    string // whole match, or "<nil>" for no match
		err     error
	}{
		{"bell escape", `\a`, "", "x\ay", "\a", nil},
		{"form feed, CR, LF, tab", `\f\r\n\t`, "", "\f\r\n\t", "\f\r\n\t", nil},
		{"octal braces", `\o{101}`, "", "A", "A", nil},
		{"hex with no digits is NUL", `\x`, "", "a\x00", "\x00", nil},
		{"control escape lower case", `\ca`, "", "\x01", "\x01", nil},
		{"escaped punctuation", `\.\*\-`, "", "a.*-", ".*-", nil},
		{"J hex needs two digits", `\x4`, "J", "x4", "x4", nil},
		{"J unicode escape", `\u0041`, "J", "A", "A", nil},
		{"u without J is an error", `\u0041`, "", "A", "", ErrSyntax},
		{"class escapes", `[\d\s]+`, "", "a1 2b", "1 2", nil},
		{"class hex range", `[\x41-\x43]+`, "", "xABCD", "ABC", nil},
		{"class backspace", `[\b]`, "", "a\bb", "\b", nil},
		{"class octal", `[\101\0]+`, "", "xA\x00A", "A\x00A", nil},
		{"class eight is a digit", `[\8]`, "", "78", "8", nil},
		{"class quote", `[\Q]^\E]+`, "", "a]^b", "]^", nil},
		{"class first bracket is literal", `[]a]+`, "", "x]a]", "]a]", nil},
		{"class negated first bracket", `[^]a]+`, "", "]xy", "xy", nil},
		{"class dash after escape is literal", `[\d-z]+`, "", "a1-z", "1-z", nil},
		{"class with \\N is an error", `[\N]`, "", "", "", ErrSyntax},
		{"class range to an escape class is an error", `[a-\d]`, "", "", "", ErrSyntax},
		{"class unterminated", `[abc`, "", "", "", ErrSyntax},
		{"class collating element", `[[.a.]]`, "", "", "", ErrSyntax},
		{"class bracket that is not POSIX", `[[a]+`, "", "x[a[", "[a[", nil},
		{"property letter", `\pL+`, "u", "1héllo2", "héllo", nil},
		{"property braces", `\p{Lu}+`, "u", "abCDe", "CD", nil},
		{"negated property", `\P{L}+`, "u", "ab12c", "12", nil},
		{"caret-negated property", `\p{^L}+`, "u", "ab12c", "12", nil},
		{"property in a class", `[\p{Nd}x]+`, "u", "ab1x2c", "1x2", nil},
		{"malformed property", `\p{`, "u", "", "", ErrSyntax},
		{"property regexp2 rejects", `\p{Foo}(?=a)`, "u", "", "", ErrSyntax},
		{"k with quotes", `(?<a>x)\k'a'`, "", "xx", "xx", nil},
		{"k with braces", `(?<a>x)\k{a}`, "", "xx", "xx", nil},
		{"k unknown name", `(?<a>x)\k<b>`, "", "", "", ErrSyntax},
		{"k bad syntax", `\kx`, "", "", "", ErrSyntax},
		{"g braced name", `(?<a>x)\g{a}`, "", "xx", "xx", nil},
		{"g plain number", `(x)\g1`, "", "xx", "xx", nil},
		{"g relative", `(x)\g-1`, "", "xx", "xx", nil},
		{"g forward relative", `\g{+1}(x)`, "", "", "", ErrUnsupported},
		{"g zero", `\g0`, "", "", "", ErrSyntax},
		{"g subroutine", `(x)\g<1>`, "", "", "", ErrUnsupported},
		{"name starting with a digit", `(?<1a>x)`, "", "", "", ErrSyntax},
		{"name unterminated", `(?<ab`, "", "", "", ErrSyntax},
		{"inline J allows duplicate names", `(?J)(?<n>a)|(?<n>b)`, "", "b", "b", nil},
		{"conditional on a name", `(?<q>")?x(?(<q>)")`, "", `"x"`, `"x"`, nil},
		{"conditional on an assertion is unsupported", `(?(?=a)a|b)`, "", "", "", ErrUnsupported},
		{"conditional on a missing group", `(?(2)a|b)`, "", "", "", ErrSyntax},
		{"lookbehind negative", `(?<!a)b`, "", "abcb", "b", nil},
		{"quantifier range", `a{2,3}`, "", "aaaa", "aaa", nil},
		{"quantifier out of order", `a{3,2}`, "", "", "", ErrSyntax},
		{"quantifier too big", `a{70000}`, "", "", "", ErrSyntax},
		{"lazy brace quantifier", `a{1,3}?`, "", "aaa", "a", nil},
		{"unknown inline option", `(?z)`, "", "", "", ErrSyntax},
		{"double minus in options", `(?i--m)`, "", "", "", ErrSyntax},
		{"unterminated options", `(?i`, "", "", "", ErrSyntax},
		{"unterminated comment", `(?#x`, "", "", "", ErrSyntax},
		{"trailing backslash", `a\`, "", "", "", ErrSyntax},
		{"recursion by name", `(?&n)`, "", "", "", ErrUnsupported},
		{"C in byte mode is one byte", `\C`, "", "\xc3\xa9", "\xc3", nil},
		{"C in UTF-8 mode is unsupported", `\C`, "u", "", "", ErrUnsupported},
		{"extended grapheme is unsupported", `\X`, "", "", "", ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _, _, ok := parseOpts(tc.opts)
			if !ok {
				t.Fatalf("bad opts %q", tc.opts)
			}
			r, err := compile(tc.pattern, f)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("compile(%q) error = %v, want %v", tc.pattern, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("compile(%q): %v", tc.pattern, err)
			}
			sub := newSubject(tc.subj, f)
			caps := make([]int, r.capsLen())
			got := "<nil>"
			if ok, code := r.exec(&sub, 0, caps); code != 0 {
				t.Fatalf("exec code %d", code)
			} else if ok {
				got = tc.subj[caps[0]:caps[1]]
			}
			if got != tc.want {
				t.Errorf("%q on %q = %q, want %q", tc.pattern, tc.subj, got, tc.want)
			}
		})
	}
}
