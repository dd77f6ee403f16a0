package ngxre

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// ErrSyntax marks a pattern that PCRE itself would reject at compile time.
var ErrSyntax = errors.New("ngxre: regex syntax error")

// ErrUnsupported marks a valid PCRE construct that neither Go's regexp nor
// regexp2 can run (recursion, \K, branch reset, backtracking verbs, ...).
var ErrUnsupported = errors.New("ngxre: unsupported PCRE construct")

// patternError carries a PCRE-style message while still matching one of the
// sentinels above with errors.Is.
type patternError struct {
	kind error
	msg  string
}

func (e *patternError) Error() string { return e.msg }
func (e *patternError) Unwrap() error { return e.kind }

func syntaxErr(msg string) error      { return &patternError{ErrSyntax, msg} }
func unsupportedErr(msg string) error { return &patternError{ErrUnsupported, msg} }

// target selects the dialect the translator writes.
type target uint8

const (
	// targetGo writes Go regexp/syntax (RE2). Constructs RE2 cannot express
	// set translation.needNET instead.
	targetGo target = iota
	// targetNET writes the .NET dialect that regexp2 parses.
	targetNET
)

// capName ties a named group to its number. A pattern may repeat a name only
// under the D option (or an inline (?J)).
type capName struct {
	name  string
	index int
}

// translation is the result of rewriting a PCRE pattern for one engine.
// Every group is written unnamed so both engines number groups exactly as
// PCRE does; names live only in names.
type translation struct {
	expr  string
	ncap  int
	names []capName
	// ctxSensitive is set when the pattern looks at the character before
	// the match start (^, \A, \b, \B). Searching a suffix of the subject
	// would then change the result, so the Go path needs left context.
	ctxSensitive bool
	// dollar is set when the pattern has a non-multiline $ or \Z. PCRE lets
	// those match before a final newline; RE2 cannot, so subjects ending in
	// "\n" go to regexp2.
	dollar bool
	// needNET is set when the Go dialect cannot express the pattern.
	needNET bool
}

// rng is an inclusive range of code points (bytes in non-UTF mode).
type rng struct{ lo, hi rune }

const maxRune = utf8.MaxRune

// groupState is what a group saves on entry and restores on exit: inline
// option changes last until the end of the enclosing group.
type groupState struct {
	x, m, noCap, ungreedy, dupOK bool
	outStart                     int
}

// translator is one left-to-right pass over a pattern for one target.
type translator struct {
	src  string
	i    int
	utf  bool
	js   bool
	tgt  target
	out  []byte
	res  translation
	dupD bool // D option given

	x, m, noCap, ungreedy, dupOK bool
	stack                        []groupState
	lastAtom                     int // start in out of the last repeatable item, -1 if none

	// nameIdx comes from the first pass, so forward references resolve.
	firstPass bool
	nameIdx   map[string]int
	backrefs  []int // numbers referenced, checked against the final count
}

// translate rewrites a PCRE pattern (ngx.re syntax and options) for tgt.
// It runs two passes: the first learns group count and names so the second
// can resolve forward and named references.
func translate(pattern string, f flags, tgt target) (translation, error) {
	if f&flagUTF8 != 0 && !utf8.ValidString(pattern) {
		return translation{}, syntaxErr("UTF-8 error: invalid UTF-8 string")
	}
	p1 := newTranslator(pattern, f, tgt)
	p1.firstPass = true
	if err := p1.run(); err != nil {
		return translation{}, err
	}
	p2 := newTranslator(pattern, f, tgt)
	p2.nameIdx = make(map[string]int, len(p1.res.names))
	for _, n := range p1.res.names {
		if _, ok := p2.nameIdx[n.name]; !ok {
			p2.nameIdx[n.name] = n.index
		}
	}
	if err := p2.run(); err != nil {
		return translation{}, err
	}
	for _, n := range p2.backrefs {
		if n > p2.res.ncap {
			return translation{}, syntaxErr("reference to non-existent subpattern")
		}
	}
	p2.res.expr = string(p2.out)
	slices.SortStableFunc(p2.res.names, func(a, b capName) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return a.index - b.index
	})
	return p2.res, nil
}

func newTranslator(pattern string, f flags, tgt target) *translator {
	return &translator{
		src:      pattern,
		utf:      f&flagUTF8 != 0,
		js:       f&flagJS != 0,
		dupD:     f&flagDupNames != 0,
		tgt:      tgt,
		x:        f&flagExtended != 0,
		m:        f&flagMultiline != 0,
		lastAtom: -1,
		out:      make([]byte, 0, len(pattern)+16),
	}
}

// peek returns the next pattern character: a decoded rune in UTF mode, one
// byte (read as Latin-1) otherwise. It returns -1 at the end.
func (t *translator) peek() (rune, int) {
	if t.i >= len(t.src) {
		return -1, 0
	}
	c := t.src[t.i]
	if c < utf8.RuneSelf || !t.utf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(t.src[t.i:])
}

func (t *translator) next() rune {
	c, n := t.peek()
	t.i += n
	return c
}

// isPatternSpace reports the characters extended mode ignores.
func isPatternSpace(c rune) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0x85, 0x200E, 0x200F, 0x2028, 0x2029:
		return true
	}
	return false
}

func (t *translator) run() error {
	for t.i < len(t.src) {
		c, n := t.peek()
		if t.x {
			if isPatternSpace(c) {
				t.i += n
				continue
			}
			if c == '#' {
				for t.i < len(t.src) && t.src[t.i] != '\n' {
					t.i++
				}
				continue
			}
		}
		var err error
		switch c {
		case '\\':
			err = t.escape()
		case '[':
			err = t.class()
		case '(':
			err = t.open()
		case ')':
			err = t.close()
		case '|':
			t.i++
			t.out = append(t.out, '|')
			t.lastAtom = -1
		case '*', '+', '?':
			err = t.quantifier()
		case '{':
			if t.braceQuantifier() {
				err = t.quantifier()
			} else {
				t.i++
				t.literal('{')
			}
		case '^':
			t.i++
			t.out = append(t.out, '^')
			t.res.ctxSensitive = true
			t.lastAtom = -1
		case '$':
			t.i++
			t.out = append(t.out, '$')
			if !t.m {
				t.res.dollar = true
			}
			t.lastAtom = -1
		case '.':
			t.i++
			t.lastAtom = len(t.out)
			t.out = append(t.out, '.')
		default:
			t.i += n
			t.literal(c)
		}
		if err != nil {
			return err
		}
	}
	if len(t.stack) > 0 {
		return syntaxErr("missing closing parenthesis")
	}
	return nil
}

// literal writes one character as a repeatable item.
func (t *translator) literal(c rune) {
	t.lastAtom = len(t.out)
	t.emitChar(c, false)
}

// emitChar writes c so the target reads it as that literal character.
func (t *translator) emitChar(c rune, inClass bool) {
	if c > ' ' && c < 0x7F {
		if isMeta(byte(c), inClass) {
			t.out = append(t.out, '\\')
		}
		t.out = append(t.out, byte(c))
		return
	}
	if t.tgt == targetGo {
		t.out = append(t.out, `\x{`...)
		t.out = strconv.AppendUint(t.out, uint64(c), 16)
		t.out = append(t.out, '}')
		return
	}
	if c <= 0xFFFF {
		t.out = fmt.Appendf(t.out, `\u%04x`, c)
		return
	}
	t.out = utf8.AppendRune(t.out, c)
}

func isMeta(c byte, inClass bool) bool {
	if inClass {
		switch c {
		case '\\', ']', '[', '^', '-':
			return true
		}
		return false
	}
	switch c {
	case '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$', '#':
		return true
	}
	return false
}

// braceQuantifier reports whether the '{' at t.i starts {n}, {n,} or {n,m}.
// Anything else is a literal brace in PCRE.
func (t *translator) braceQuantifier() bool {
	j := t.i + 1
	d := j
	for j < len(t.src) && isDigit(t.src[j]) {
		j++
	}
	if j == d || j >= len(t.src) {
		return false
	}
	if t.src[j] == '}' {
		return true
	}
	if t.src[j] != ',' {
		return false
	}
	j++
	for j < len(t.src) && isDigit(t.src[j]) {
		j++
	}
	return j < len(t.src) && t.src[j] == '}'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isWordByte(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
}

func (t *translator) quantifier() error {
	if t.lastAtom < 0 {
		return syntaxErr("quantifier does not follow a repeatable item")
	}
	start := t.i
	if t.src[t.i] == '{' {
		end := t.i + 1
		for t.src[end] != '}' {
			end++
		}
		body := t.src[t.i+1 : end]
		lo, hi, hasHi := body, "", false
		for k := 0; k < len(body); k++ {
			if body[k] == ',' {
				lo, hi, hasHi = body[:k], body[k+1:], true
				break
			}
		}
		n, err1 := strconv.Atoi(lo)
		if err1 != nil || n > 65535 {
			return syntaxErr("number too big in {} quantifier")
		}
		if hasHi && hi != "" {
			m, err2 := strconv.Atoi(hi)
			if err2 != nil || m > 65535 {
				return syntaxErr("number too big in {} quantifier")
			}
			if m < n {
				return syntaxErr("numbers out of order in {} quantifier")
			}
		}
		t.i = end + 1
	} else {
		t.i++
	}
	q := t.src[start:t.i]
	lazy, possessive := false, false
	if t.i < len(t.src) {
		switch t.src[t.i] {
		case '?':
			lazy = true
			t.i++
		case '+':
			possessive = true
			t.i++
		}
	}
	if possessive {
		// A possessive quantifier is an atomic group around the repeat.
		if t.tgt == targetGo {
			t.res.needNET = true
		}
		t.out = slices.Insert(t.out, t.lastAtom, []byte("(?>")...)
		t.out = append(t.out, q...)
		t.out = append(t.out, ')')
	} else {
		if t.ungreedy {
			lazy = !lazy
		}
		t.out = append(t.out, q...)
		if lazy {
			t.out = append(t.out, '?')
		}
	}
	t.lastAtom = -1
	return nil
}

// open handles '(' and every (?...) form.
func (t *translator) open() error {
	start := len(t.out)
	t.i++
	if t.i < len(t.src) && t.src[t.i] == '*' {
		return unsupportedErr("(*VERB) not recognized or malformed")
	}
	if t.i >= len(t.src) || t.src[t.i] != '?' {
		if t.noCap {
			t.push(start, "(?:")
		} else {
			t.res.ncap++
			t.push(start, "(")
		}
		return nil
	}
	t.i++
	if t.i >= len(t.src) {
		return syntaxErr("unrecognized character after (? or (?-")
	}
	c := t.src[t.i]
	switch c {
	case '#':
		end := t.i
		for end < len(t.src) && t.src[end] != ')' {
			end++
		}
		if end >= len(t.src) {
			return syntaxErr("missing ) at end of (?# comment")
		}
		t.i = end + 1
		return nil
	case ':':
		t.i++
		t.push(start, "(?:")
		return nil
	case '|':
		return unsupportedErr("branch reset groups (?| are not supported")
	case '>', '=', '!':
		t.i++
		t.res.needNET = true
		t.push(start, "(?"+string(c))
		return nil
	case '<':
		if t.i+1 < len(t.src) && (t.src[t.i+1] == '=' || t.src[t.i+1] == '!') {
			t.res.needNET = true
			t.push(start, "(?<"+string(t.src[t.i+1]))
			t.i += 2
			return nil
		}
		t.i++
		return t.namedGroup(start, '>')
	case '\'':
		t.i++
		return t.namedGroup(start, '\'')
	case 'P':
		t.i++
		if t.i >= len(t.src) {
			return syntaxErr("unrecognized character after (?P")
		}
		switch t.src[t.i] {
		case '<':
			t.i++
			return t.namedGroup(start, '>')
		case '=':
			end := t.i + 1
			for end < len(t.src) && t.src[end] != ')' {
				end++
			}
			if end >= len(t.src) {
				return syntaxErr("syntax error in subpattern name (missing terminator?)")
			}
			name := t.src[t.i+1 : end]
			t.i = end + 1
			if !validName(name) {
				return syntaxErr("subpattern name expected")
			}
			return t.namedBackref(name)
		case '>':
			return unsupportedErr("recursion and subroutine calls are not supported")
		}
		return syntaxErr("unrecognized character after (?P")
	case '(':
		return t.conditional(start)
	case 'R', '&', '+':
		return unsupportedErr("recursion and subroutine calls are not supported")
	}
	if isDigit(c) || (c == '-' && t.i+1 < len(t.src) && isDigit(t.src[t.i+1])) {
		return unsupportedErr("recursion and subroutine calls are not supported")
	}
	return t.optionGroup(start)
}

// push opens a group, remembering the option state to restore at ')'.
func (t *translator) push(start int, text string) {
	t.stack = append(t.stack, groupState{t.x, t.m, t.noCap, t.ungreedy, t.dupOK, start})
	t.out = append(t.out, text...)
	t.lastAtom = -1
}

func (t *translator) close() error {
	if len(t.stack) == 0 {
		return syntaxErr("unmatched closing parenthesis")
	}
	t.i++
	g := t.stack[len(t.stack)-1]
	t.stack = t.stack[:len(t.stack)-1]
	t.x, t.m, t.noCap, t.ungreedy, t.dupOK = g.x, g.m, g.noCap, g.ungreedy, g.dupOK
	t.out = append(t.out, ')')
	t.lastAtom = g.outStart
	return nil
}

// namedGroup reads a group name up to closer and opens the capture.
func (t *translator) namedGroup(start int, closer byte) error {
	end := t.i
	for end < len(t.src) && t.src[end] != closer {
		end++
	}
	if end >= len(t.src) {
		return syntaxErr("syntax error in subpattern name (missing terminator?)")
	}
	name := t.src[t.i:end]
	if !validName(name) {
		if name != "" && isDigit(name[0]) {
			return syntaxErr("subpattern name must start with a non-digit")
		}
		return syntaxErr("subpattern name expected")
	}
	t.i = end + 1
	if !t.dupD && !t.dupOK {
		for _, n := range t.res.names {
			if n.name == name {
				return syntaxErr("two named subpatterns have the same name (PCRE2_DUPNAMES not set)")
			}
		}
	}
	t.res.ncap++
	t.res.names = append(t.res.names, capName{name, t.res.ncap})
	t.push(start, "(")
	return nil
}

// conditional handles (?(n)...) and (?(<name>)...), which only regexp2 runs.
func (t *translator) conditional(start int) error {
	t.i++ // the inner '('
	end := t.i
	for end < len(t.src) && t.src[end] != ')' {
		end++
	}
	if end >= len(t.src) {
		return syntaxErr("malformed number or name after (?(")
	}
	cond := t.src[t.i:end]
	n, err := strconv.Atoi(cond)
	if err != nil || n <= 0 {
		name := cond
		if len(name) >= 2 && ((name[0] == '<' && name[len(name)-1] == '>') || (name[0] == '\'' && name[len(name)-1] == '\'')) {
			name = name[1 : len(name)-1]
		}
		if !validName(name) {
			return unsupportedErr("only group conditions are supported in (?(...)")
		}
		if t.firstPass {
			n = 1
		} else if n = t.nameIdx[name]; n == 0 {
			return syntaxErr("reference to non-existent subpattern")
		}
	}
	t.i = end + 1
	t.res.needNET = true
	if !t.firstPass {
		t.backrefs = append(t.backrefs, n)
	}
	t.push(start, "(?("+strconv.Itoa(n)+")")
	return nil
}

// optionGroup handles (?imsxnUJ-imsxnUJ) and (?imsx-imsx:...). Only i, m and
// s reach the engines; x, n, U and J are applied by the translator itself.
func (t *translator) optionGroup(start int) error {
	on := true
	var pos, neg []byte
	x, m, noCap, ungreedy, dupOK := t.x, t.m, t.noCap, t.ungreedy, t.dupOK
	for t.i < len(t.src) {
		c := t.src[t.i]
		t.i++
		switch c {
		case '-':
			if !on {
				return syntaxErr("unrecognized character after (? or (?-")
			}
			on = false
		case 'i', 'm', 's':
			if on {
				pos = append(pos, c)
			} else {
				neg = append(neg, c)
			}
			if c == 'm' {
				m = on
			}
		case 'x':
			x = on
		case 'n':
			noCap = on
		case 'U':
			ungreedy = on
		case 'J':
			dupOK = on
		case ')', ':':
			text := "(?" + string(pos)
			if len(neg) > 0 {
				text += "-" + string(neg)
			}
			if c == ')' {
				t.x, t.m, t.noCap, t.ungreedy, t.dupOK = x, m, noCap, ungreedy, dupOK
				if len(pos)+len(neg) > 0 {
					t.out = append(t.out, text+")"...)
				}
				t.lastAtom = -1
				return nil
			}
			t.push(start, text+":")
			t.x, t.m, t.noCap, t.ungreedy, t.dupOK = x, m, noCap, ungreedy, dupOK
			return nil
		default:
			return syntaxErr("unrecognized character after (? or (?-")
		}
	}
	return syntaxErr("missing closing parenthesis")
}
