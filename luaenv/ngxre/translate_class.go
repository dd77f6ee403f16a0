package ngxre

import (
	"slices"
)

// Character sets PCRE defines for its backslash classes, without Unicode
// properties (ngx.re never sets PCRE2_UCP), so \d, \w and \s are ASCII.
var (
	setDigit = []rng{{'0', '9'}}
	setWord  = []rng{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}
	// setSpace includes \v (0x0B), which PCRE matches and RE2's \s does not.
	setSpace = []rng{{'\t', '\r'}, {' ', ' '}}
	setHoriz = []rng{{'\t', '\t'}, {' ', ' '}, {0xA0, 0xA0}, {0x1680, 0x1680},
		{0x180E, 0x180E}, {0x2000, 0x200A}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}}
	setVert    = []rng{{'\n', '\r'}, {0x85, 0x85}, {0x2028, 0x2029}}
	setNewline = []rng{{'\n', '\n'}}
)

// posixClass returns the set for a [:name:] class PCRE accepts inside
// brackets.
func posixClass(name string) ([]rng, bool) {
	switch name {
	case "alnum":
		return []rng{{'0', '9'}, {'A', 'Z'}, {'a', 'z'}}, true
	case "alpha":
		return []rng{{'A', 'Z'}, {'a', 'z'}}, true
	case "ascii":
		return []rng{{0, 0x7F}}, true
	case "blank":
		return []rng{{'\t', '\t'}, {' ', ' '}}, true
	case "cntrl":
		return []rng{{0, 0x1F}, {0x7F, 0x7F}}, true
	case "digit":
		return []rng{{'0', '9'}}, true
	case "graph":
		return []rng{{'!', '~'}}, true
	case "lower":
		return []rng{{'a', 'z'}}, true
	case "print":
		return []rng{{' ', '~'}}, true
	case "punct":
		return []rng{{'!', '/'}, {':', '@'}, {'[', '`'}, {'{', '~'}}, true
	case "space":
		return []rng{{'\t', '\r'}, {' ', ' '}}, true
	case "upper":
		return []rng{{'A', 'Z'}}, true
	case "word":
		return []rng{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}, true
	case "xdigit":
		return []rng{{'0', '9'}, {'A', 'F'}, {'a', 'f'}}, true
	}
	return nil, false
}

// emitSet writes a bracket expression for ranges (complemented when neg).
func (t *translator) emitSet(rs []rng, extra []string, neg bool) {
	rs = normalize(rs)
	if len(extra) == 0 {
		if len(rs) == 0 {
			t.emitNone(neg)
			return
		}
		if len(rs) == 1 && rs[0].lo == 0 && rs[0].hi == maxRune {
			t.emitNone(!neg)
			return
		}
	}
	t.out = append(t.out, '[')
	if neg {
		t.out = append(t.out, '^')
	}
	for _, r := range rs {
		t.emitChar(r.lo, true)
		if r.hi != r.lo {
			if r.hi > r.lo+1 {
				t.out = append(t.out, '-')
			}
			t.emitChar(r.hi, true)
		}
	}
	for _, e := range extra {
		t.out = append(t.out, e...)
	}
	t.out = append(t.out, ']')
}

// emitNone writes a class matching nothing, or everything when all is set.
func (t *translator) emitNone(all bool) {
	switch {
	case t.tgt == targetGo && all:
		t.out = append(t.out, `[\x{0}-\x{10ffff}]`...)
	case t.tgt == targetGo:
		t.out = append(t.out, `[^\x{0}-\x{10ffff}]`...)
	case all:
		t.out = append(t.out, `[\s\S]`...)
	default:
		t.out = append(t.out, `(?!)`...)
	}
}

// normalize sorts and merges ranges.
func normalize(rs []rng) []rng {
	if len(rs) < 2 {
		return rs
	}
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b rng) int { return int(a.lo - b.lo) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.lo <= last.hi+1 {
			if r.hi > last.hi {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// complement returns the code points not in rs.
func complement(rs []rng) []rng {
	rs = normalize(rs)
	var out []rng
	next := rune(0)
	for _, r := range rs {
		if r.lo > next {
			out = append(out, rng{next, r.lo - 1})
		}
		next = r.hi + 1
	}
	if next <= maxRune {
		out = append(out, rng{next, maxRune})
	}
	return out
}

// classEscape returns the set for \d \D \w \W \s \S \h \H \v \V \N.
func classEscape(c rune) (rs []rng, neg, ok bool) {
	switch c {
	case 'd':
		return setDigit, false, true
	case 'D':
		return setDigit, true, true
	case 'w':
		return setWord, false, true
	case 'W':
		return setWord, true, true
	case 's':
		return setSpace, false, true
	case 'S':
		return setSpace, true, true
	case 'h':
		return setHoriz, false, true
	case 'H':
		return setHoriz, true, true
	case 'v':
		return setVert, false, true
	case 'V':
		return setVert, true, true
	case 'N':
		return setNewline, true, true
	}
	return nil, false, false
}

// class translates a bracket expression into explicit ranges, so that \s
// inside it includes \v and negated escapes work in both dialects.
func (t *translator) class() error {
	t.lastAtom = len(t.out)
	t.i++
	neg := false
	if t.i < len(t.src) && t.src[t.i] == '^' {
		neg = true
		t.i++
	}
	if t.js && t.i < len(t.src) && t.src[t.i] == ']' {
		// JavaScript compatibility: [] matches nothing and [^] anything.
		t.i++
		t.emitNone(neg)
		return nil
	}
	var rs []rng
	var extra []string
	first := true
	quoted := false
	for {
		if t.i >= len(t.src) {
			return syntaxErr("missing terminating ] for character class")
		}
		if quoted {
			if t.src[t.i] == '\\' && t.i+1 < len(t.src) && t.src[t.i+1] == 'E' {
				t.i += 2
				quoted = false
				continue
			}
		} else {
			if t.src[t.i] == ']' && !first {
				t.i++
				break
			}
			if t.src[t.i] == '[' && t.i+1 < len(t.src) && (t.src[t.i+1] == ':' || t.src[t.i+1] == '.' || t.src[t.i+1] == '=') {
				if set, ok, err := t.posix(); err != nil {
					return err
				} else if ok {
					rs = append(rs, set...)
					first = false
					continue
				}
			}
			if t.src[t.i] == '\\' && t.i+1 < len(t.src) && t.src[t.i+1] == 'Q' {
				t.i += 2
				quoted = true
				continue
			}
			if t.src[t.i] == '\\' && t.i+1 < len(t.src) && t.src[t.i+1] == 'E' {
				t.i += 2
				continue
			}
		}
		first = false
		lo, set, prop, err := t.classAtom(quoted)
		if err != nil {
			return err
		}
		if set != nil {
			rs = append(rs, set...)
			continue
		}
		if prop != "" {
			extra = append(extra, prop)
			continue
		}
		hi := lo
		if t.i+1 < len(t.src) && t.src[t.i] == '-' && t.src[t.i+1] != ']' {
			t.i++
			h, hset, hprop, err := t.classAtom(quoted)
			if err != nil {
				return err
			}
			if hset != nil || hprop != "" {
				return syntaxErr("invalid range in character class")
			}
			if h < lo {
				return syntaxErr("range out of order in character class")
			}
			hi = h
		}
		rs = append(rs, rng{lo, hi})
	}
	t.emitSet(rs, extra, neg)
	return nil
}

// posix reads [:name:] at t.i. ok is false when the text is not a POSIX
// class (then the '[' is an ordinary character).
func (t *translator) posix() ([]rng, bool, error) {
	kind := t.src[t.i+1]
	end := t.i + 2
	for end+1 < len(t.src) && !(t.src[end] == kind && t.src[end+1] == ']') {
		if t.src[end] == ']' {
			return nil, false, nil
		}
		end++
	}
	if end+1 >= len(t.src) {
		return nil, false, nil
	}
	if kind != ':' {
		return nil, false, syntaxErr("POSIX collating elements are not supported")
	}
	name := t.src[t.i+2 : end]
	neg := false
	if len(name) > 0 && name[0] == '^' {
		neg, name = true, name[1:]
	}
	set, ok := posixClass(name)
	if !ok {
		return nil, false, syntaxErr("unknown POSIX class name")
	}
	t.i = end + 2
	if neg {
		set = complement(set)
	}
	return set, true, nil
}

// classAtom reads one item inside brackets: a character (c), a set of
// ranges, or a Unicode property written for the target.
func (t *translator) classAtom(quoted bool) (c rune, set []rng, prop string, err error) {
	c = t.next()
	if c != '\\' || quoted {
		return c, nil, "", nil
	}
	if t.i >= len(t.src) {
		return 0, nil, "", syntaxErr(`\ at end of pattern`)
	}
	e := t.next()
	if rs, neg, ok := classEscape(e); ok && e != 'N' {
		if neg {
			rs = complement(rs)
		}
		return 0, rs, "", nil
	}
	switch e {
	case 'p', 'P':
		p, err := t.property(e)
		return 0, nil, p, err
	case 'N', 'R', 'X', 'B', 'A', 'z', 'Z', 'G', 'K', 'g', 'k', 'Q', 'E':
		return 0, nil, "", syntaxErr("escape sequence is invalid in character class")
	case '1', '2', '3', '4', '5', '6', '7':
		v := int(e - '0')
		for k := 0; k < 2 && t.i < len(t.src) && t.src[t.i] >= '0' && t.src[t.i] <= '7'; k++ {
			v = v*8 + int(t.src[t.i]-'0')
			t.i++
		}
		if !t.utf && v > 0xFF {
			return 0, nil, "", syntaxErr(`octal value is greater than \377 in 8-bit non-UTF-8 mode`)
		}
		return rune(v), nil, "", nil
	case '8', '9':
		return e, nil, "", nil
	}
	r, ok, err := t.charEscape(e, true)
	if err != nil {
		return 0, nil, "", err
	}
	if !ok {
		return 0, nil, "", syntaxErr(`unrecognized character follows \`)
	}
	return r, nil, "", nil
}
