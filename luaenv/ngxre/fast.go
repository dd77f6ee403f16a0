package ngxre

import (
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// fastKind names the pattern shapes that can be matched by a byte scan
// without running a regex engine.
type fastKind uint8

const (
	fastRun  fastKind = iota + 1 // X+ or X* over a byte set
	fastByte                     // one byte from a set
	fastLit                      // a literal string
)

// fastMatcher runs the common separator and token patterns (" +", "\\s+",
// "[ ]+", "\\S+", ",", "(\\S+)", ...) directly over bytes. Each shape is
// context-free, so the result equals PCRE's leftmost match from any offset.
type fastMatcher struct {
	kind     fastKind
	minZero  bool // X*: the match may be empty
	capWhole bool // the pattern is one capture group around the shape
	set      [4]uint64
	lit      string
}

func (m *fastMatcher) has(c byte) bool { return m.set[c>>6]&(1<<(c&63)) != 0 }

func (m *fastMatcher) add(c byte) { m.set[c>>6] |= 1 << (c & 63) }

// find returns the leftmost match at or after pos (exactly at pos when
// anchored).
func (m *fastMatcher) find(s string, pos int, anchored bool) (start, end int, ok bool) {
	switch m.kind {
	case fastLit:
		if anchored {
			if strings.HasPrefix(s[pos:], m.lit) {
				return pos, pos + len(m.lit), true
			}
			return 0, 0, false
		}
		k := strings.Index(s[pos:], m.lit)
		if k < 0 {
			return 0, 0, false
		}
		return pos + k, pos + k + len(m.lit), true
	case fastByte:
		if anchored {
			if pos < len(s) && m.has(s[pos]) {
				return pos, pos + 1, true
			}
			return 0, 0, false
		}
		for i := pos; i < len(s); i++ {
			if m.has(s[i]) {
				return i, i + 1, true
			}
		}
		return 0, 0, false
	}
	i := pos
	if !m.minZero {
		if anchored {
			if pos >= len(s) || !m.has(s[pos]) {
				return 0, 0, false
			}
		} else {
			for i < len(s) && !m.has(s[i]) {
				i++
			}
			if i == len(s) {
				return 0, 0, false
			}
		}
	}
	j := i
	for j < len(s) && m.has(s[j]) {
		j++
	}
	return i, j, true
}

// newFastMatcher inspects the Go translation of a pattern and returns a
// matcher when its shape allows one, or nil.
func newFastMatcher(goExpr string, ncap int, utf bool) *fastMatcher {
	re, err := syntax.Parse(goExpr, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	m := &fastMatcher{}
	if re.Op == syntax.OpCapture {
		if ncap != 1 || re.Cap != 1 {
			return nil
		}
		m.capWhole = true
		re = re.Sub[0]
	} else if ncap != 0 {
		return nil
	}
	switch re.Op {
	case syntax.OpPlus, syntax.OpStar:
		if re.Flags&syntax.NonGreedy != 0 {
			return nil
		}
		m.kind = fastRun
		m.minZero = re.Op == syntax.OpStar
		if !m.fillSet(re.Sub[0], utf, true) {
			return nil
		}
	case syntax.OpLiteral:
		if len(re.Rune) == 1 {
			m.kind = fastByte
			if !m.fillSet(re, utf, false) {
				return nil
			}
			return m
		}
		if re.Flags&syntax.FoldCase != 0 {
			return nil
		}
		var b []byte
		for _, r := range re.Rune {
			if !utf {
				if r > 0xFF {
					return nil
				}
				b = append(b, byte(r))
				continue
			}
			b = utf8.AppendRune(b, r)
		}
		m.kind = fastLit
		m.lit = string(b)
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		m.kind = fastByte
		if !m.fillSet(re, utf, false) {
			return nil
		}
	default:
		return nil
	}
	return m
}

// fillSet turns a one-character node into the byte set. In UTF mode a
// character above 0x7F is several bytes, which a byte set can stand for only
// inside a run, and only when the node accepts all such characters or none.
func (m *fastMatcher) fillSet(re *syntax.Regexp, utf, run bool) bool {
	var ranges []rune
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) != 1 {
			return false
		}
		r := re.Rune[0]
		ranges = []rune{r, r}
		if re.Flags&syntax.FoldCase != 0 {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				ranges = append(ranges, f, f)
			}
		}
	case syntax.OpCharClass:
		ranges = re.Rune
	case syntax.OpAnyCharNotNL:
		ranges = []rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune}
	case syntax.OpAnyChar:
		ranges = []rune{0, utf8.MaxRune}
	default:
		return false
	}
	limit := rune(0xFF)
	if utf {
		limit = 0x7F
	}
	highAll, highNone := false, true
	for k := 0; k+1 < len(ranges); k += 2 {
		lo, hi := ranges[k], ranges[k+1]
		for r := lo; r <= hi && r <= limit; r++ {
			m.add(byte(r))
		}
		if hi > 0x7F {
			highNone = false
			if lo <= 0x80 && hi >= utf8.MaxRune {
				highAll = true
			}
		}
	}
	if !utf {
		return true
	}
	if highNone {
		return true
	}
	if highAll && run {
		for c := 0x80; c <= 0xFF; c++ {
			m.add(byte(c))
		}
		return true
	}
	return false
}
