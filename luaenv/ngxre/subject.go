package ngxre

import (
	"sort"
	"unicode/utf8"
)

// PCRE2 match-time error codes that ngx.re reports as "pcre_exec() failed: N".
const (
	errBadOffset    = -33 // PCRE2_ERROR_BADOFFSET: start offset past the end
	errBadUTFOffset = -36 // PCRE2_ERROR_BADUTFOFFSET: start offset inside a character
	errMatchLimit   = -47 // PCRE2_ERROR_MATCHLIMIT: backtracking budget exhausted
	errUTF8Base     = -2  // PCRE2_ERROR_UTF8_ERR1 is -3, ERR21 is -23
)

// utf8ErrorCode validates s the way PCRE2 does for a UTF-mode match and
// returns the PCRE2_ERROR_UTF8_ERRn code of the first problem, or 0.
func utf8ErrorCode(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			i++
			continue
		}
		if c < 0xC0 {
			return utf8Err(20) // isolated continuation byte
		}
		if c >= 0xFE {
			return utf8Err(21)
		}
		var extra int
		switch {
		case c < 0xE0:
			extra = 1
		case c < 0xF0:
			extra = 2
		case c < 0xF8:
			extra = 3
		case c < 0xFC:
			extra = 4
		default:
			extra = 5
		}
		if left := len(s) - i - 1; left < extra {
			return utf8Err(extra - left) // ERR1..ERR5: bytes missing at the end
		}
		for k := 1; k <= extra; k++ {
			if s[i+k]&0xC0 != 0x80 {
				return utf8Err(5 + k) // ERR6..ERR10: byte k is not a continuation
			}
		}
		d := s[i+1]
		switch extra {
		case 1:
			if c&0x3E == 0 {
				return utf8Err(15) // overlong 2-byte form
			}
		case 2:
			if c == 0xE0 && d&0x20 == 0 {
				return utf8Err(16)
			}
			if c == 0xED && d >= 0xA0 {
				return utf8Err(14) // surrogate
			}
		case 3:
			if c == 0xF0 && d&0x30 == 0 {
				return utf8Err(17)
			}
			if c > 0xF4 || (c == 0xF4 && d > 0x8F) {
				return utf8Err(13) // above U+10FFFF
			}
		case 4:
			return utf8Err(11) // 5-byte forms are not allowed
		default:
			return utf8Err(12) // 6-byte forms are not allowed
		}
		i += extra + 1
	}
	return 0
}

func utf8Err(n int) int { return errUTF8Base - n }

// subject is one call's view of the subject string. The views each engine
// needs are built lazily and at most once per Lua call, so a gsub over a long
// subject converts it once, not once per match.
type subject struct {
	s      string
	latin1 bool // non-UTF mode: every byte is one character
	utfErr int  // PCRE2 UTF-8 error code of s (UTF mode with checking only)

	goReady bool
	gs      string  // what Go's regexp sees
	toGo    []int32 // byte offset in s -> offset in gs; nil when gs == s
	fromGo  []int32 // offset in gs -> byte offset in s

	netReady bool
	runes    []rune
	runeByte []int32 // rune index -> byte offset in s; nil when runes map 1:1 to bytes
}

func newSubject(s string, f flags) subject {
	sub := subject{s: s, latin1: f&flagUTF8 == 0}
	if f&flagUTF8 != 0 && f&flagNoUTFCheck == 0 {
		sub.utfErr = utf8ErrorCode(s)
	}
	return sub
}

// goView prepares the string given to Go's regexp. In non-UTF mode a byte
// above 0x7F must be one character, as in PCRE, so such subjects are
// re-encoded with each byte as the code point of the same value (Latin-1).
func (sub *subject) goView() {
	if sub.goReady {
		return
	}
	sub.goReady = true
	sub.gs = sub.s
	if !sub.latin1 {
		return
	}
	high := 0
	for i := 0; i < len(sub.s); i++ {
		if sub.s[i] >= utf8.RuneSelf {
			high++
		}
	}
	if high == 0 {
		return
	}
	buf := make([]byte, 0, len(sub.s)+high)
	sub.toGo = make([]int32, len(sub.s)+1)
	sub.fromGo = make([]int32, len(sub.s)+high+1)
	for i := 0; i < len(sub.s); i++ {
		sub.toGo[i] = int32(len(buf))
		sub.fromGo[len(buf)] = int32(i)
		c := sub.s[i]
		if c < utf8.RuneSelf {
			buf = append(buf, c)
			continue
		}
		buf = utf8.AppendRune(buf, rune(c))
		sub.fromGo[len(buf)-1] = int32(i)
	}
	sub.toGo[len(sub.s)] = int32(len(buf))
	sub.fromGo[len(buf)] = int32(len(sub.s))
	sub.gs = string(buf)
}

func (sub *subject) goOffset(pos int) int {
	if sub.toGo == nil {
		return pos
	}
	return int(sub.toGo[pos])
}

func (sub *subject) origOffset(goPos int) int {
	if sub.fromGo == nil || goPos < 0 {
		return goPos
	}
	return int(sub.fromGo[goPos])
}

// netView prepares the rune slice regexp2 works on. In non-UTF mode runes are
// bytes, so regexp2's rune indexes are already byte offsets.
func (sub *subject) netView() {
	if sub.netReady {
		return
	}
	sub.netReady = true
	if sub.latin1 {
		sub.runes = make([]rune, len(sub.s))
		for i := 0; i < len(sub.s); i++ {
			sub.runes[i] = rune(sub.s[i])
		}
		return
	}
	n := utf8.RuneCountInString(sub.s)
	sub.runes = make([]rune, 0, n)
	sub.runeByte = make([]int32, 0, n+1)
	for i := 0; i < len(sub.s); {
		r, w := utf8.DecodeRuneInString(sub.s[i:])
		sub.runes = append(sub.runes, r)
		sub.runeByte = append(sub.runeByte, int32(i))
		i += w
	}
	sub.runeByte = append(sub.runeByte, int32(len(sub.s)))
}

func (sub *subject) runeIndex(pos int) int {
	if sub.runeByte == nil {
		return pos
	}
	return sort.Search(len(sub.runeByte), func(k int) bool { return int(sub.runeByte[k]) >= pos })
}

func (sub *subject) byteOffset(runeIdx int) int {
	if sub.runeByte == nil {
		return runeIdx
	}
	return int(sub.runeByte[runeIdx])
}
