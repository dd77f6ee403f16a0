package ngxre

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"sync"
	"time"

	"github.com/dlclark/regexp2"
)

// netMatchTimeout bounds one regexp2 match. PCRE stops runaway backtracking
// with a match limit and ngx.re reports "pcre_exec() failed: -47"; regexp2
// has no step budget, so a timeout plays that role.
const netMatchTimeout = time.Second

// regex is one compiled pattern plus everything derived from it. It is
// immutable after compile except for variants built on first use, so a
// cached *regex is shared by every LState of a server.
type regex struct {
	pattern string
	flags   flags
	ncap    int       // groups reported to Lua (0 in DFA mode, as in PCRE)
	names   []capName // PCRE name-table order: by name, then number

	fast *fastMatcher

	// Go (RE2) engine; nil when the pattern needs regexp2.
	goBody       string
	goBase       *regexp.Regexp
	ctxSensitive bool
	dollar       bool

	// Variants needing left context, built on first use (see execGo).
	ctxOnce     sync.Once
	ctxSearch   *regexp.Regexp
	ctxAnchored *regexp.Regexp
	ctxErr      error

	// regexp2 engine: built eagerly when Go cannot run the pattern, lazily
	// for Go patterns whose $ must see a trailing newline.
	netOnce sync.Once
	net     *regexp2.Regexp
	netErr  error
}

// goPrefix spells the option letters Go's syntax takes inline.
func goPrefix(f flags) string {
	p := ""
	if f&flagCaseless != 0 {
		p += "i"
	}
	if f&flagMultiline != 0 {
		p += "m"
	}
	if f&flagDotAll != 0 {
		p += "s"
	}
	if p == "" {
		return ""
	}
	return "(?" + p + ")"
}

// compile builds a regex for pattern under f. Errors carry PCRE-style text.
func compile(pattern string, f flags) (*regex, error) {
	r := &regex{pattern: pattern, flags: f}
	tr, err := translate(pattern, f, targetGo)
	if err != nil {
		return nil, err
	}
	r.ncap, r.names = tr.ncap, tr.names
	var goErr error
	if !tr.needNET {
		body := goPrefix(f) + tr.expr
		expr := body
		if f&flagAnchored != 0 {
			expr = goPrefix(f) + `\A(?:` + tr.expr + `)`
		}
		re, err := regexp.Compile(expr)
		if err == nil {
			if f&flagDFA != 0 {
				re.Longest()
			}
			r.goBase, r.goBody = re, body
			r.ctxSensitive, r.dollar = tr.ctxSensitive, tr.dollar
			r.fast = newFastMatcher(body, tr.ncap, f&flagUTF8 != 0)
		} else {
			goErr = err
		}
	}
	if r.goBase == nil {
		r.netOnce.Do(func() { r.net, r.netErr = compileNET(pattern, f) })
		if r.netErr != nil {
			if goErr != nil {
				var se *syntax.Error
				if errors.As(goErr, &se) && se.Code != syntax.ErrInvalidPerlOp {
					return nil, syntaxErr(se.Code.String())
				}
			}
			return nil, r.netErr
		}
	}
	if f&flagDFA != 0 {
		r.ncap, r.names = 0, nil
	}
	return r, nil
}

// compileNET builds the regexp2 form of a pattern.
func compileNET(pattern string, f flags) (*regexp2.Regexp, error) {
	tr, err := translate(pattern, f, targetNET)
	if err != nil {
		return nil, err
	}
	expr := tr.expr
	if f&flagAnchored != 0 {
		expr = `\G(?:` + expr + `)`
	}
	var opt regexp2.RegexOptions
	if f&flagCaseless != 0 {
		opt |= regexp2.IgnoreCase
	}
	if f&flagMultiline != 0 {
		opt |= regexp2.Multiline
	}
	if f&flagDotAll != 0 {
		opt |= regexp2.Singleline
	}
	re, err := regexp2.Compile(expr, opt)
	if err != nil {
		return nil, syntaxErr(trimNETError(err.Error()))
	}
	re.MatchTimeout = netMatchTimeout
	return re, nil
}

// trimNETError drops regexp2's "error parsing regexp: " prefix and the
// trailing copy of the pattern, which ngx.re adds itself.
func trimNETError(msg string) string {
	const prefix = "error parsing regexp: "
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		msg = msg[len(prefix):]
	}
	for k := len(msg) - 4; k >= 0; k-- {
		if msg[k:k+4] == " in " {
			return msg[:k]
		}
	}
	return msg
}

// capsLen is the length of the offset slice exec fills for r.
func (r *regex) capsLen() int { return 2 * (r.ncap + 1) }

// exec runs one match of r over sub from byte offset pos, as pcre2_match
// does with a start offset. caps receives byte offsets (-1 for unset
// groups). code is a negative PCRE2 error code, or 0.
func (r *regex) exec(sub *subject, pos int, caps []int) (matched bool, code int) {
	for k := range caps {
		caps[k] = -1
	}
	s := sub.s
	if pos > len(s) {
		return false, errBadOffset
	}
	if sub.utfErr != 0 {
		return false, sub.utfErr
	}
	if r.flags&flagUTF8 != 0 && r.flags&flagNoUTFCheck == 0 && pos < len(s) && s[pos]&0xC0 == 0x80 {
		return false, errBadUTFOffset
	}
	anchored := r.flags&flagAnchored != 0
	if r.fast != nil {
		start, end, ok := r.fast.find(s, pos, anchored)
		if !ok {
			return false, 0
		}
		caps[0], caps[1] = start, end
		if r.fast.capWhole && len(caps) >= 4 {
			caps[2], caps[3] = start, end
		}
		return true, 0
	}
	if r.goBase != nil && !(r.dollar && len(s) > 0 && s[len(s)-1] == '\n' && r.netReady()) {
		if matched, ok := r.execGo(sub, pos, caps); ok {
			return matched, 0
		}
	}
	return r.execNET(sub, pos, caps)
}

// netReady compiles the regexp2 form on first use and reports whether it
// exists. A pattern Go runs but regexp2 rejects keeps Go's semantics.
func (r *regex) netReady() bool {
	r.netOnce.Do(func() { r.net, r.netErr = compileNET(r.pattern, r.flags) })
	return r.net != nil
}

// execGo matches with Go's regexp. Go has no "search from offset with the
// text before it visible" API, so a suffix of the subject is searched. That
// is exact unless the pattern looks left (^, \A, \b, \B); then one byte of
// left context is included and a variant that must skip it is used. ok is
// false when that variant cannot be built (RE2 size limits); the caller
// then uses regexp2.
func (r *regex) execGo(sub *subject, pos int, caps []int) (matched, ok bool) {
	sub.goView()
	gs := sub.gs
	gpos := sub.goOffset(pos)
	longest := r.flags&flagDFA != 0
	var loc []int
	base := gpos
	switch {
	case gpos == 0 || !r.ctxSensitive:
		loc = findIndex(r.goBase, gs[gpos:], r.ncap)
	default:
		search, anchored, err := r.contextVariants()
		if err != nil {
			return false, false
		}
		base = gpos - 1
		window := gs[base:]
		if r.flags&flagAnchored != 0 || longest {
			if r.flags&flagAnchored == 0 {
				// DFA mode: find the leftmost start first, then take the
				// longest match from there, as pcre2_dfa_match does.
				first := search.FindStringSubmatchIndex(window)
				if first == nil {
					return false, true
				}
				base += first[2] - 1
				window = gs[base:]
			}
			loc = anchored.FindStringSubmatchIndex(window)
		} else {
			loc = search.FindStringSubmatchIndex(window)
		}
		if loc != nil {
			// Drop the wrapper: group 1 is the real match.
			loc = loc[2:]
		}
	}
	if loc == nil {
		return false, true
	}
	for k := 0; k < len(caps) && k < len(loc); k++ {
		if loc[k] >= 0 {
			caps[k] = sub.origOffset(loc[k] + base)
		}
	}
	return true, true
}

// findIndex calls the cheapest Go API that yields the offsets r reports.
func findIndex(re *regexp.Regexp, s string, ncap int) []int {
	if ncap == 0 {
		return re.FindStringIndex(s)
	}
	return re.FindStringSubmatchIndex(s)
}

// contextVariants builds the patterns used when the search starts past
// offset 0: both begin by consuming one character of left context.
func (r *regex) contextVariants() (search, anchored *regexp.Regexp, err error) {
	r.ctxOnce.Do(func() {
		body := r.goBody
		r.ctxSearch, r.ctxErr = regexp.Compile(`\A(?s:.)(?s:.*?)(` + body + `)`)
		if r.ctxErr != nil {
			return
		}
		r.ctxAnchored, r.ctxErr = regexp.Compile(`\A(?s:.)(` + body + `)`)
		if r.ctxErr == nil && r.flags&flagDFA != 0 {
			r.ctxAnchored.Longest()
		}
	})
	return r.ctxSearch, r.ctxAnchored, r.ctxErr
}

// execNET matches with regexp2 over the rune view of the subject.
func (r *regex) execNET(sub *subject, pos int, caps []int) (bool, int) {
	if !r.netReady() {
		return false, 0
	}
	sub.netView()
	m, err := r.net.FindRunesMatchStartingAt(sub.runes, sub.runeIndex(pos))
	if err != nil {
		return false, errMatchLimit
	}
	if m == nil {
		return false, 0
	}
	caps[0] = sub.byteOffset(m.Index)
	caps[1] = sub.byteOffset(m.Index + m.Length)
	for g := 1; 2*g+1 < len(caps); g++ {
		grp := m.GroupByNumber(g)
		if grp == nil || len(grp.Captures) == 0 {
			continue
		}
		caps[2*g] = sub.byteOffset(grp.Index)
		caps[2*g+1] = sub.byteOffset(grp.Index + grp.Length)
	}
	return true, 0
}
