package ngxre

import (
	"strconv"
	"unicode/utf8"
)

// wordNET is the ASCII word class used to spell \b and \B for regexp2, whose
// own \b follows Unicode word characters.
const wordNET = `[0-9A-Z_a-z]`

// escape handles a backslash sequence outside a character class.
func (t *translator) escape() error {
	t.i++
	if t.i >= len(t.src) {
		return syntaxErr(`\ at end of pattern`)
	}
	c := t.next()
	if rs, neg, ok := classEscape(c); ok {
		t.lastAtom = len(t.out)
		t.emitSet(rs, nil, neg)
		return nil
	}
	switch c {
	case 'R':
		t.lastAtom = len(t.out)
		t.out = append(t.out, "(?:"...)
		t.emitChar('\r', false)
		t.emitChar('\n', false)
		t.out = append(t.out, '|')
		t.emitSet(setVert, nil, false)
		t.out = append(t.out, ')')
	case 'b', 'B':
		t.res.ctxSensitive = true
		t.lastAtom = -1
		if t.tgt == targetGo {
			t.out = append(t.out, '\\', byte(c))
		} else if c == 'b' {
			t.out = append(t.out, "(?:(?<="+wordNET+")(?!"+wordNET+")|(?<!"+wordNET+")(?="+wordNET+"))"...)
		} else {
			t.out = append(t.out, "(?:(?<="+wordNET+")(?="+wordNET+")|(?<!"+wordNET+")(?!"+wordNET+"))"...)
		}
	case 'A':
		t.res.ctxSensitive = true
		t.lastAtom = -1
		t.out = append(t.out, `\A`...)
	case 'z':
		t.lastAtom = -1
		t.out = append(t.out, `\z`...)
	case 'Z':
		t.lastAtom = -1
		t.res.dollar = true
		if t.tgt == targetGo {
			t.out = append(t.out, `\z`...)
		} else {
			t.out = append(t.out, `\Z`...)
		}
	case 'G':
		t.lastAtom = -1
		t.res.needNET = true
		t.out = append(t.out, `\G`...)
	case 'K':
		return unsupportedErr(`\K is not supported`)
	case 'X':
		return unsupportedErr(`\X is not supported`)
	case 'C':
		if t.utf {
			return unsupportedErr(`\C is not supported in UTF-8 mode`)
		}
		t.lastAtom = len(t.out)
		t.out = append(t.out, "(?s:.)"...)
	case 'Q':
		for t.i < len(t.src) {
			if t.src[t.i] == '\\' && t.i+1 < len(t.src) && t.src[t.i+1] == 'E' {
				t.i += 2
				break
			}
			t.literal(t.next())
		}
	case 'E':
		// A stray \E is ignored.
	case 'p', 'P':
		prop, err := t.property(c)
		if err != nil {
			return err
		}
		t.lastAtom = len(t.out)
		t.out = append(t.out, prop...)
	case 'g':
		return t.gEscape()
	case 'k':
		return t.kEscape()
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return t.digitEscape(c)
	default:
		r, ok, err := t.charEscape(c, false)
		if err != nil {
			return err
		}
		if !ok {
			return syntaxErr(`unrecognized character follows \`)
		}
		t.literal(r)
	}
	return nil
}

// charEscape decodes escapes that stand for one character. c has already
// been consumed. ok is false when c is not such an escape.
func (t *translator) charEscape(c rune, inClass bool) (rune, bool, error) {
	switch c {
	case 'a':
		return 7, true, nil
	case 'e':
		return 0x1B, true, nil
	case 'f':
		return '\f', true, nil
	case 'n':
		return '\n', true, nil
	case 'r':
		return '\r', true, nil
	case 't':
		return '\t', true, nil
	case '0':
		v := 0
		for k := 0; k < 2 && t.i < len(t.src) && t.src[t.i] >= '0' && t.src[t.i] <= '7'; k++ {
			v = v*8 + int(t.src[t.i]-'0')
			t.i++
		}
		return rune(v), true, nil
	case 'o':
		if t.i >= len(t.src) || t.src[t.i] != '{' {
			return 0, false, syntaxErr(`missing opening brace after \o`)
		}
		return t.bracedNumber(8)
	case 'x':
		if t.js {
			if t.i+1 < len(t.src) && isHex(t.src[t.i]) && isHex(t.src[t.i+1]) {
				v, _ := strconv.ParseUint(t.src[t.i:t.i+2], 16, 32)
				t.i += 2
				return rune(v), true, nil
			}
			return 'x', true, nil
		}
		if t.i < len(t.src) && t.src[t.i] == '{' {
			return t.bracedNumber(16)
		}
		v := 0
		for k := 0; k < 2 && t.i < len(t.src) && isHex(t.src[t.i]); k++ {
			d, _ := strconv.ParseUint(t.src[t.i:t.i+1], 16, 8)
			v = v*16 + int(d)
			t.i++
		}
		return rune(v), true, nil
	case 'c':
		if t.i >= len(t.src) || t.src[t.i] >= utf8.RuneSelf {
			return 0, false, syntaxErr(`\c at end of pattern`)
		}
		ch := t.src[t.i]
		t.i++
		if ch >= 'a' && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		return rune(ch ^ 0x40), true, nil
	case 'u':
		if t.js && t.i+4 <= len(t.src) {
			if v, err := strconv.ParseUint(t.src[t.i:t.i+4], 16, 32); err == nil {
				t.i += 4
				return t.checkCode(rune(v))
			}
		}
		if t.js {
			return 'u', true, nil
		}
		return 0, false, syntaxErr(`PCRE2 does not support \F, \L, \l, \N{name}, \U, or \u`)
	case 'U':
		if t.js {
			return 'U', true, nil
		}
		return 0, false, syntaxErr(`PCRE2 does not support \F, \L, \l, \N{name}, \U, or \u`)
	case 'b':
		if inClass {
			return '\b', true, nil
		}
	}
	if c < utf8.RuneSelf && isWordByte(byte(c)) {
		return 0, false, nil
	}
	// Any other non-alphanumeric character stands for itself.
	return c, true, nil
}

// bracedNumber reads {digits} in the given base for \x{..} and \o{..}.
func (t *translator) bracedNumber(base int) (rune, bool, error) {
	end := t.i + 1
	for end < len(t.src) && t.src[end] != '}' {
		end++
	}
	if end >= len(t.src) {
		return 0, false, syntaxErr("missing terminating } in escape")
	}
	v, err := strconv.ParseUint(t.src[t.i+1:end], base, 32)
	if err != nil {
		return 0, false, syntaxErr("non-hex character in \\x{} (closing brace missing?)")
	}
	t.i = end + 1
	return t.checkCode(rune(min(v, maxRune+1)))
}

// checkCode rejects code points the current mode cannot hold.
func (t *translator) checkCode(r rune) (rune, bool, error) {
	if !t.utf && r > 0xFF {
		return 0, false, syntaxErr(`character code point value in \x{} or \o{} is too large`)
	}
	if r > maxRune || (r >= 0xD800 && r <= 0xDFFF) {
		return 0, false, syntaxErr(`character code point value in \x{} or \o{} is too large`)
	}
	return r, true, nil
}

// property reads \p{Name}, \p{^Name} or \pL and returns it in the target's
// syntax.
func (t *translator) property(c rune) (string, error) {
	neg := c == 'P'
	var name string
	if t.i < len(t.src) && t.src[t.i] == '{' {
		end := t.i + 1
		for end < len(t.src) && t.src[end] != '}' {
			end++
		}
		if end >= len(t.src) {
			return "", syntaxErr(`malformed \P or \p sequence`)
		}
		name = t.src[t.i+1 : end]
		t.i = end + 1
		if len(name) > 0 && name[0] == '^' {
			neg = !neg
			name = name[1:]
		}
	} else if t.i < len(t.src) && t.src[t.i] < utf8.RuneSelf {
		name = t.src[t.i : t.i+1]
		t.i++
	}
	if name == "" {
		return "", syntaxErr(`malformed \P or \p sequence`)
	}
	for k := 0; k < len(name); k++ {
		if !isWordByte(name[k]) && name[k] != '&' {
			return "", syntaxErr("unknown property name after \\P or \\p")
		}
	}
	if neg {
		return `\P{` + name + `}`, nil
	}
	return `\p{` + name + `}`, nil
}

// digitEscape handles \1..\9...: a backreference, or octal when PCRE says so.
func (t *translator) digitEscape(c rune) error {
	start := t.i - 1
	end := start
	for end < len(t.src) && isDigit(t.src[end]) {
		end++
	}
	n, err := strconv.Atoi(t.src[start:end])
	if err != nil {
		n = 1 << 30
	}
	if n < 10 || c == '8' || c == '9' || n <= t.res.ncap {
		t.i = end
		t.backref(n)
		return nil
	}
	v := 0
	t.i = start
	for k := 0; k < 3 && t.i < len(t.src) && t.src[t.i] >= '0' && t.src[t.i] <= '7'; k++ {
		v = v*8 + int(t.src[t.i]-'0')
		t.i++
	}
	if !t.utf && v > 0xFF {
		return syntaxErr(`octal value is greater than \377 in 8-bit non-UTF-8 mode`)
	}
	t.literal(rune(v))
	return nil
}

// backref writes a numbered backreference; only regexp2 can run it.
func (t *translator) backref(n int) {
	t.res.needNET = true
	t.backrefs = append(t.backrefs, n)
	t.lastAtom = len(t.out)
	t.out = append(t.out, `\k<`...)
	t.out = strconv.AppendInt(t.out, int64(n), 10)
	t.out = append(t.out, '>')
}

// namedBackref resolves a group name to its number.
func (t *translator) namedBackref(name string) error {
	if t.firstPass {
		t.backref(1 << 20) // placeholder; names are resolved in pass two
		return nil
	}
	idx, ok := t.nameIdx[name]
	if !ok {
		return syntaxErr("reference to non-existent subpattern")
	}
	t.backref(idx)
	return nil
}

// gEscape handles \g{n}, \gn, \g{-n}, \g-n and \g{name}.
func (t *translator) gEscape() error {
	if t.i >= len(t.src) {
		return syntaxErr(`a numbered reference must not be zero`)
	}
	switch t.src[t.i] {
	case '<', '\'':
		return unsupportedErr("subroutine calls are not supported")
	case '{':
		end := t.i + 1
		for end < len(t.src) && t.src[end] != '}' {
			end++
		}
		if end >= len(t.src) {
			return syntaxErr(`\g is not followed by a braced, angle-bracketed, or quoted name/number or by a plain number`)
		}
		body := t.src[t.i+1 : end]
		t.i = end + 1
		if n, err := strconv.Atoi(body); err == nil {
			return t.numberedRef(n, len(body) > 0 && (body[0] == '-' || body[0] == '+'))
		}
		if !validName(body) {
			return syntaxErr("subpattern name expected")
		}
		return t.namedBackref(body)
	}
	end := t.i
	if end < len(t.src) && (t.src[end] == '-' || t.src[end] == '+') {
		end++
	}
	for end < len(t.src) && isDigit(t.src[end]) {
		end++
	}
	n, err := strconv.Atoi(t.src[t.i:end])
	if err != nil {
		return syntaxErr(`\g is not followed by a braced, angle-bracketed, or quoted name/number or by a plain number`)
	}
	signed := t.src[t.i] == '-' || t.src[t.i] == '+'
	t.i = end
	return t.numberedRef(n, signed)
}

func (t *translator) numberedRef(n int, signed bool) error {
	if signed {
		if n >= 0 {
			return unsupportedErr("forward relative references are not supported")
		}
		n = t.res.ncap + 1 + n
	}
	if n <= 0 {
		return syntaxErr("a numbered reference must not be zero")
	}
	t.backref(n)
	return nil
}

// kEscape handles \k<name>, \k'name' and \k{name}.
func (t *translator) kEscape() error {
	if t.i >= len(t.src) {
		return syntaxErr(`\k is not followed by a braced, angle-bracketed, or quoted name`)
	}
	var closer byte
	switch t.src[t.i] {
	case '<':
		closer = '>'
	case '\'':
		closer = '\''
	case '{':
		closer = '}'
	default:
		return syntaxErr(`\k is not followed by a braced, angle-bracketed, or quoted name`)
	}
	end := t.i + 1
	for end < len(t.src) && t.src[end] != closer {
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
}

// validName checks PCRE's group-name rules.
func validName(s string) bool {
	if s == "" || len(s) > 32 || isDigit(s[0]) {
		return false
	}
	for k := 0; k < len(s); k++ {
		if !isWordByte(s[k]) {
			return false
		}
	}
	return true
}
