package ngxre

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fuzzSubjects are the subjects every fuzzed pattern runs against.
var fuzzSubjects = []string{"", "a", "ab ba", "a1_b\nb", " aab  bba ", "\xffa\xc3\xa9b", "ba\n"}

// fuzzFlagSets are the option combinations the raw fuzzer cycles through.
var fuzzFlagSets = []flags{0, flagExtended, flagUTF8, flagCaseless | flagMultiline | flagDotAll, flagAnchored, flagDFA, flagUTF8 | flagNoUTFCheck | flagExtended}

// checkExec runs r over subj from every offset and checks the offsets are
// well formed.
func checkExec(t *testing.T, r *regex, subj string) {
	t.Helper()
	sub := newSubject(subj, r.flags)
	caps := make([]int, r.capsLen())
	for pos := 0; pos <= len(subj)+1; pos++ {
		ok, code := r.exec(&sub, pos, caps)
		if code != 0 || !ok {
			continue
		}
		if caps[0] < pos || caps[0] > caps[1] || caps[1] > len(subj) {
			t.Fatalf("pattern %q subj %q pos %d: bad match %v", r.pattern, subj, pos, caps)
		}
		for g := 1; g <= r.ncap; g++ {
			a, b := caps[2*g], caps[2*g+1]
			if (a < 0) != (b < 0) || a > b || b > len(subj) {
				t.Fatalf("pattern %q subj %q pos %d: bad group %d %v", r.pattern, subj, pos, g, caps)
			}
		}
	}
}

// FuzzTranslate feeds arbitrary patterns through translation, compilation
// and matching under several option sets: nothing may panic and every
// match must be well formed. The same bytes also pick tokens from a small
// grammar (differentialPattern) whose patterns must give identical results
// on our pipeline, on regexp2 and on Go's regexp run directly.
func FuzzTranslate(f *testing.F) {
	for _, seed := range []string{
		`\S+`, ` +`, `(\w+)=(\d+)`, `(?<n>a)\k<n>`, `a(?=b)|c(?<!d)`, `[\s\S]*?x`, `\Qa.b\E`,
		"a b # c\n d", `(?x) a \ b`, `[[:alpha:]-]+`, `a{2,3}+`, `(?i)K`, `^\bfoo$`, `\x{e9}\xe9`,
		`(a)|\2`, `[z-a]`, `(?P<x>.)(?P=x)`, "\xff\xfe", `(?(1)a|b)`, `\g{-1}(a)`, `[]`, `\`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		if len(pattern) > 128 {
			return
		}
		for _, fl := range fuzzFlagSets {
			_, _ = translate(pattern, fl, targetGo)
			_, _ = translate(pattern, fl, targetNET)
			r, err := compile(pattern, fl)
			if err != nil {
				continue
			}
			for _, s := range fuzzSubjects {
				checkExec(t, r, s)
			}
		}
		differential(t, differentialPattern(pattern))
	})
}

// grammarTokens build patterns whose meaning is the same in PCRE, RE2 and
// .NET. Quantifiers are fused onto single-character atoms, so no group is
// ever repeated: engines disagree about captures in empty loop iterations,
// which is not what this fuzzer is about.
var grammarTokens = []string{
	"a", "b", " ", "1", ".", "[ab]", "[^a]", "[a-]", `\d`, `\w`, `\s`, `\S`, `\W`,
	"a*", "b+", "[ab]?", ".*", `\s+`, `\S+`, "a*?", "b+?", `\w*`, "a{1,2}",
	"|", "(", ")", "(?:", "^", "$", `\b`, `\B`, `\.`, "\n",
}

func differentialPattern(seed string) string {
	var b strings.Builder
	for i := 0; i < len(seed) && i < 12; i++ {
		b.WriteString(grammarTokens[int(seed[i])%len(grammarTokens)])
	}
	return b.String()
}

// differential compares our exec with regexp2 (whole match, from every
// offset, which exercises the left-context variants and the fast paths) and
// with Go's regexp on the untranslated pattern (all groups, from offset 0,
// which checks the translation itself).
func differential(t *testing.T, pattern string) {
	t.Helper()
	r, err := compile(pattern, 0)
	if err != nil {
		return
	}
	net, err := compileNET(pattern, 0)
	if err != nil {
		t.Fatalf("pattern %q: Go compiled, regexp2 did not: %v", pattern, err)
	}
	direct, directErr := regexp.Compile(pattern)
	ref := &regex{pattern: pattern, ncap: r.ncap, net: net}
	ref.netOnce.Do(func() {})
	for _, subj := range []string{"", "a", "ab ba", "a1_b\nb", " aab  bba ", "b\na", "ab\n"} {
		sub := newSubject(subj, 0)
		refSub := newSubject(subj, 0)
		got := make([]int, r.capsLen())
		want := make([]int, r.capsLen())
		for pos := 0; pos <= len(subj); pos++ {
			ok1, _ := r.exec(&sub, pos, got)
			ok2, _ := ref.execNET(&refSub, pos, want)
			// Only the whole match is compared with regexp2: it reports
			// groups of untaken empty alternatives as set ("|()" on ""),
			// where PCRE and RE2 leave them unset.
			if ok1 != ok2 || (ok1 && !slices.Equal(got[:2], want[:2])) {
				t.Fatalf("pattern %q subj %q pos %d: ours %v %v, regexp2 %v %v", pattern, subj, pos, ok1, got, ok2, want)
			}
			if pos != 0 || directErr != nil || strings.HasSuffix(subj, "\n") {
				continue
			}
			loc := direct.FindStringSubmatchIndex(subj)
			if (loc != nil) != ok1 || (ok1 && !slices.Equal(loc, got)) {
				t.Fatalf("pattern %q subj %q: ours %v %v, Go direct %v", pattern, subj, ok1, got, loc)
			}
		}
	}
}

// FuzzExtended checks the "x" option: on inputs made of letters, digits,
// whitespace and comments, a pattern in extended mode must translate
// exactly like the same pattern with its whitespace and comments removed.
func FuzzExtended(f *testing.F) {
	for _, seed := range []string{"a b", "a # c\nb", "  ab\t\n9 ", "#only a comment", "a#\n#\nb", "x\v\fy\rz"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = translate(in, flagExtended, targetGo)
		_, _ = translate(in, flagExtended|flagUTF8, targetNET)
		for i := 0; i < len(in); i++ {
			c := in[i]
			simple := (c >= 'a' && c <= 'z') || isDigit(c) || c == '#' || strings.IndexByte(" \t\n\v\f\r", c) >= 0
			if !simple {
				return
			}
		}
		var stripped strings.Builder
		for i := 0; i < len(in); i++ {
			switch c := in[i]; {
			case c == '#':
				for i < len(in) && in[i] != '\n' {
					i++
				}
			case strings.IndexByte(" \t\n\v\f\r", c) >= 0:
			default:
				stripped.WriteByte(c)
			}
		}
		for _, tgt := range []target{targetGo, targetNET} {
			ext, err1 := translate(in, flagExtended, tgt)
			plain, err2 := translate(stripped.String(), 0, tgt)
			if err1 != nil || err2 != nil {
				t.Fatalf("%q: unexpected errors %v, %v", in, err1, err2)
			}
			if ext.expr != plain.expr {
				t.Fatalf("%q: extended gives %q, stripped %q gives %q", in, ext.expr, stripped.String(), plain.expr)
			}
		}
		r, err := compile(in, flagExtended)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		want := regexp.MustCompile(regexp.QuoteMeta(stripped.String()))
		for _, s := range []string{stripped.String(), "x" + stripped.String() + "y", "nothing"} {
			sub := newSubject(s, flagExtended)
			caps := make([]int, r.capsLen())
			ok, _ := r.exec(&sub, 0, caps)
			loc := want.FindStringIndex(s)
			if ok != (loc != nil) || (ok && !slices.Equal(caps[:2], loc)) {
				t.Fatalf("%q on %q: got %v %v, want %v", in, s, ok, caps, loc)
			}
		}
	})
}
