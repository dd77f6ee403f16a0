package ljcompat

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadEscape reports a \x, \u or \z escape that LuaJIT itself would
// reject ("invalid escape sequence"), such as \x with fewer than two hex
// digits or \u{...} beyond U+10FFFF.
var ErrBadEscape = errors.New("ljcompat: invalid escape sequence")

// TranslateSource rewrites LuaJIT-only escapes in the short string literals
// of src into forms gopher-lua's lexer understands, leaving everything else
// byte for byte: \xNN becomes the decimal escape \DDD, \u{XXXX} becomes the
// decimal escapes of its UTF-8 bytes, and \z is removed together with the
// whitespace (newlines included) that follows it. gopher-lua would
// otherwise read \x41 as "x41" without complaint.
//
// The scanner knows quotes, escapes, long brackets ([[...]], [==[...]==])
// and comments, so text inside long strings and comments is never touched.
// A source with no backslash is returned as it is, without copying. An
// unterminated literal is left for the compiler to report; a malformed
// escape returns an error wrapping ErrBadEscape with its line number.
func TranslateSource(src string) (string, error) {
	if strings.IndexByte(src, '\\') < 0 {
		return src, nil
	}
	t := translator{src: src}
	n := len(src)
	for i := 0; i < n; {
		c := src[i]
		switch {
		case c == '-' && i+1 < n && src[i+1] == '-':
			i = t.skipComment(i + 2)
		case c == '[':
			if level := longBracket(src, i); level >= 0 {
				i = skipLong(src, i, level)
			} else {
				i++
			}
		case c == '"' || c == '\'':
			var err error
			if i, err = t.shortString(i); err != nil {
				return "", err
			}
		default:
			i++
		}
	}
	if t.out == nil {
		return src, nil
	}
	t.out.WriteString(src[t.last:])
	return t.out.String(), nil
}

// translator accumulates the rewritten source; out stays nil until the
// first rewrite, and src[last:] is what has not been copied yet.
type translator struct {
	src  string
	out  *strings.Builder
	last int
}

// replace copies the source up to from, then repl, and resumes copying at
// to.
func (t *translator) replace(from, to int, repl []byte) {
	if t.out == nil {
		t.out = &strings.Builder{}
		t.out.Grow(len(t.src) + 16)
	}
	t.out.WriteString(t.src[t.last:from])
	t.out.Write(repl)
	t.last = to
}

// skipComment skips a comment whose "--" ends just before i.
func (t *translator) skipComment(i int) int {
	if level := longBracket(t.src, i); level >= 0 {
		return skipLong(t.src, i, level)
	}
	for i < len(t.src) && t.src[i] != '\n' && t.src[i] != '\r' {
		i++
	}
	return i
}

// longBracket returns the level of the opening long bracket at s[i] ("[",
// some '=', "["), or -1 when there is none.
func longBracket(s string, i int) int {
	if i >= len(s) || s[i] != '[' {
		return -1
	}
	j := i + 1
	for j < len(s) && s[j] == '=' {
		j++
	}
	if j < len(s) && s[j] == '[' {
		return j - i - 1
	}
	return -1
}

// skipLong returns the index after the long bracket of the given level
// opened at s[i], or len(s) when it is never closed.
func skipLong(s string, i, level int) int {
	closing := "]" + strings.Repeat("=", level) + "]"
	if k := strings.Index(s[i+level+2:], closing); k >= 0 {
		return i + level + 2 + k + len(closing)
	}
	return len(s)
}

// shortString scans the literal whose quote is at s[i], rewriting escapes,
// and returns the index after it.
func (t *translator) shortString(i int) (int, error) {
	s := t.src
	quote := s[i]
	j := i + 1
	for j < len(s) {
		c := s[j]
		switch {
		case c == quote:
			return j + 1, nil
		case c == '\n' || c == '\r':
			return j, nil // unterminated; the compiler will say so
		case c != '\\':
			j++
			continue
		}
		if j+1 >= len(s) {
			return len(s), nil
		}
		switch s[j+1] {
		case 'x':
			if j+3 >= len(s) || !isHex(s[j+2]) || !isHex(s[j+3]) {
				return 0, t.badEscape(j)
			}
			v := hexDigit(s[j+2])<<4 | hexDigit(s[j+3])
			t.replace(j, j+4, decimalEscape(nil, byte(v)))
			j += 4
		case 'z':
			k := j + 2
			for k < len(s) && isSpace(s[k]) {
				k++
			}
			t.replace(j, k, nil)
			j = k
		case 'u':
			end, repl, ok := unicodeEscape(s, j)
			if !ok {
				return 0, t.badEscape(j)
			}
			t.replace(j, end, repl)
			j = end
		case '\r':
			j += 2
			if j < len(s) && s[j] == '\n' {
				j++
			}
		default:
			j += 2
		}
	}
	return len(s), nil
}

// unicodeEscape decodes \u{XXX} at s[j] as LuaJIT does (any code point below
// 0x110000, surrogates included) and returns the index after it and the
// decimal escapes of its UTF-8 encoding.
func unicodeEscape(s string, j int) (int, []byte, bool) {
	k := j + 2
	if k >= len(s) || s[k] != '{' {
		return 0, nil, false
	}
	k++
	r, digits := 0, 0
	for k < len(s) && isHex(s[k]) {
		r = r<<4 | hexDigit(s[k])
		if r >= 0x110000 {
			return 0, nil, false
		}
		digits++
		k++
	}
	if digits == 0 || k >= len(s) || s[k] != '}' {
		return 0, nil, false
	}
	var utf [4]byte
	var b []byte
	switch {
	case r < 0x80:
		b = append(utf[:0], byte(r))
	case r < 0x800:
		b = append(utf[:0], 0xc0|byte(r>>6), 0x80|byte(r&0x3f))
	case r < 0x10000:
		b = append(utf[:0], 0xe0|byte(r>>12), 0x80|byte(r>>6&0x3f), 0x80|byte(r&0x3f))
	default:
		b = append(utf[:0], 0xf0|byte(r>>18), 0x80|byte(r>>12&0x3f), 0x80|byte(r>>6&0x3f), 0x80|byte(r&0x3f))
	}
	var repl []byte
	for _, c := range b {
		repl = decimalEscape(repl, c)
	}
	return k + 1, repl, true
}

// decimalEscape appends \DDD for c, always three digits so that a digit
// after the escape cannot extend it.
func decimalEscape(b []byte, c byte) []byte {
	return append(b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || lowerASCII(c) >= 'a' && lowerASCII(c) <= 'f'
}

func (t *translator) badEscape(j int) error {
	line := 1 + strings.Count(t.src[:j], "\n")
	end := min(j+6, len(t.src))
	return fmt.Errorf("%w: line %d near %q", ErrBadEscape, line, t.src[j:end])
}
