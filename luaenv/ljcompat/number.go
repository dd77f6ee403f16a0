package ljcompat

import (
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
)

// FormatNumber formats n as LuaJIT prints numbers: C's "%.14g", except that
// an exact tie at the fifteenth significant digit rounds away from zero
// (LuaJIT's own formatter does that; glibc rounds such ties to even), and
// non-finite values print as "inf", "-inf" and "nan" (LuaJIT 2.1 never
// prints a sign on a NaN). The host uses it wherever a number becomes text,
// so that send, ngx.say and ngx.log agree with tostring.
func FormatNumber(n float64) string {
	var buf [32]byte
	return string(AppendNumber(buf[:0], n))
}

// AppendNumber appends FormatNumber(n) to b. Integral values below 1e14 in
// magnitude, the common case on a server, take a path that appends digits
// directly and allocates nothing beyond growing b.
func AppendNumber(b []byte, n float64) []byte {
	if n == math.Trunc(n) && n > -1e14 && n < 1e14 {
		if n == 0 && math.Signbit(n) {
			return append(b, '-', '0')
		}
		return strconv.AppendInt(b, int64(n), 10)
	}
	return appendFloat(b, n, numSpec{verb: 'g', prec: 14})
}

// numSpec is one parsed printf conversion: flags, width, precision (-1 when
// absent) and the conversion character.
type numSpec struct {
	minus, plus, space, alt, zero bool
	width                         int
	prec                          int
	verb                          byte
}

func (sp numSpec) upper() bool { return sp.verb >= 'A' && sp.verb <= 'Z' }

// appendFloat appends x formatted by one of C's floating-point conversions
// (e E f F g G a A) with LuaJIT's rounding of exact ties.
func appendFloat(dst []byte, x float64, sp numSpec) []byte {
	var body [64]byte
	var sign byte
	neg := math.Signbit(x)
	if math.IsInf(x, 0) || math.IsNaN(x) {
		word := "inf"
		if math.IsNaN(x) {
			word = "nan"
			if sp.space {
				sign = ' '
			}
		} else if neg {
			sign = '-'
		} else if sp.plus {
			sign = '+'
		} else if sp.space {
			sign = ' '
		}
		b := body[:0]
		if sign != 0 {
			b = append(b, sign)
		}
		for i := 0; i < len(word); i++ {
			c := word[i]
			if sp.upper() {
				c -= 'a' - 'A'
			}
			b = append(b, c)
		}
		return pad(dst, b, 0, sp.width, sp.minus, false)
	}
	if neg {
		sign = '-'
		x = -x
	} else if sp.plus {
		sign = '+'
	} else if sp.space {
		sign = ' '
	}
	var scratch [80]byte
	b := body[:0]
	if sign != 0 {
		b = append(b, sign)
	}
	prefixLen := len(b)
	switch sp.verb | 0x20 {
	case 'a':
		b = appendHexFloat(b, x, sp)
		prefixLen += 2 // zero padding goes after "0x"
	case 'e':
		prec := sp.prec
		if prec < 0 {
			prec = 6
		}
		d, exp := sigDigits(scratch[:0], x, prec+1)
		b = appendExpForm(b, d, exp, prec, sp.alt, false, sp.upper())
	case 'f':
		prec := sp.prec
		if prec < 0 {
			prec = 6
		}
		b = appendFixed(b, scratch[:0], x, prec, sp.alt)
	default: // 'g'
		p := sp.prec
		if p < 0 {
			p = 6
		} else if p == 0 {
			p = 1
		}
		d, exp := sigDigits(scratch[:0], x, p)
		if exp < -4 || exp >= p {
			b = appendExpForm(b, d, exp, p-1, sp.alt, !sp.alt, sp.upper())
		} else {
			b = appendGFixed(b, d, exp, p-1-exp, sp.alt)
		}
	}
	return pad(dst, b, prefixLen, sp.width, sp.minus, sp.zero)
}

// pad appends body to dst, widened to width: spaces on the right when left
// is set, zeros after the first prefixLen bytes when zero is set, spaces on
// the left otherwise.
func pad(dst, body []byte, prefixLen, width int, left, zero bool) []byte {
	n := width - len(body)
	if n <= 0 {
		return append(dst, body...)
	}
	switch {
	case left:
		dst = append(dst, body...)
		for ; n > 0; n-- {
			dst = append(dst, ' ')
		}
	case zero:
		dst = append(dst, body[:prefixLen]...)
		for ; n > 0; n-- {
			dst = append(dst, '0')
		}
		dst = append(dst, body[prefixLen:]...)
	default:
		for ; n > 0; n-- {
			dst = append(dst, ' ')
		}
		dst = append(dst, body...)
	}
	return dst
}

// sigDigits returns the n significant decimal digits of x (x >= 0, finite)
// and the decimal exponent of the first one, rounded to nearest with exact
// ties rounded up, as LuaJIT does. The digits live in scratch's array.
func sigDigits(scratch []byte, x float64, n int) ([]byte, int) {
	tie := x != 0 && isTieSig(x, n)
	prec := n - 1
	if tie {
		prec = n // n+1 digits: the exact expansion
	}
	s := strconv.AppendFloat(scratch, x, 'e', prec, 64)
	// s is "d.ddde±XX" or "de±XX"; move the lead digit over the point so
	// that the digits are contiguous in s[1:].
	epos := len(s) - 1
	for s[epos] != 'e' {
		epos--
	}
	exp := 0
	for i := epos + 2; i < len(s); i++ {
		exp = exp*10 + int(s[i]-'0')
	}
	if s[epos+1] == '-' {
		exp = -exp
	}
	var d []byte
	if prec == 0 {
		d = s[:1]
	} else {
		s[1] = s[0]
		d = s[1:epos]
	}
	if tie {
		d = d[:n]
		if roundUpDigits(d) {
			d[0] = '1'
			exp++
		}
	}
	return d, exp
}

// roundUpDigits adds one unit in the last place of the decimal digits d and
// reports whether the carry ran off the front (d is then all zeros).
func roundUpDigits(d []byte) bool {
	for i := len(d) - 1; i >= 0; i-- {
		if d[i] == '.' {
			continue
		}
		if d[i] != '9' {
			d[i]++
			return false
		}
		d[i] = '0'
	}
	return true
}

// appendExpForm appends d[0] '.' d[1:prec+1] 'e' exponent, as %e does (or as
// %g does with strip set, which drops trailing zeros and a bare point).
func appendExpForm(b, d []byte, exp, prec int, alt, strip, upper bool) []byte {
	b = append(b, d[0])
	frac := d[1:]
	if len(frac) > prec {
		frac = frac[:prec]
	}
	if strip {
		for len(frac) > 0 && frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
	}
	if len(frac) > 0 || alt {
		b = append(b, '.')
		b = append(b, frac...)
		if !strip {
			for i := len(frac); i < prec; i++ {
				b = append(b, '0')
			}
		}
	}
	if upper {
		b = append(b, 'E')
	} else {
		b = append(b, 'e')
	}
	if exp < 0 {
		b = append(b, '-')
		exp = -exp
	} else {
		b = append(b, '+')
	}
	if exp < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(exp), 10)
}

// appendGFixed appends the significant digits d (first digit at decimal
// exponent exp, -4 <= exp < len(d)) in %g's fixed form with frac digits after
// the point, trailing zeros removed unless alt.
func appendGFixed(b, d []byte, exp, frac int, alt bool) []byte {
	var intPart, fracPart []byte
	leadZeros := 0
	if exp >= 0 {
		intPart = d[:exp+1]
		fracPart = d[exp+1:]
	} else {
		leadZeros = -exp - 1
		fracPart = d
	}
	if len(intPart) == 0 {
		b = append(b, '0')
	} else {
		b = append(b, intPart...)
	}
	if !alt {
		for len(fracPart) > 0 && fracPart[len(fracPart)-1] == '0' {
			fracPart = fracPart[:len(fracPart)-1]
		}
		if len(fracPart) == 0 {
			return b
		}
	}
	b = append(b, '.')
	for i := 0; i < leadZeros; i++ {
		b = append(b, '0')
	}
	b = append(b, fracPart...)
	if alt {
		for i := leadZeros + len(fracPart); i < frac; i++ {
			b = append(b, '0')
		}
	}
	return b
}

// appendFixed appends x (>= 0, finite) with prec digits after the point, as
// %f does, rounding exact ties up.
func appendFixed(b, scratch []byte, x float64, prec int, alt bool) []byte {
	if x != 0 && isTieFrac(x, prec) {
		s := strconv.AppendFloat(scratch, x, 'f', prec+1, 64)
		s = s[:len(s)-1]
		if prec == 0 {
			s = s[:len(s)-1] // drop the point too
		}
		if roundUpDigits(s) {
			b = append(b, '1')
		}
		b = append(b, s...)
	} else {
		b = strconv.AppendFloat(b, x, 'f', prec, 64)
	}
	if alt && prec == 0 {
		b = append(b, '.')
	}
	return b
}

// appendHexFloat appends x (>= 0, finite) as C's %a: "0x1.8p+1". Without a
// precision it uses the fewest hex digits that are exact; with one it rounds
// half up, as LuaJIT does.
func appendHexFloat(b []byte, x float64, sp numSpec) []byte {
	const lower, upper = "0123456789abcdefpx", "0123456789ABCDEFPX"
	digits := lower
	if sp.upper() {
		digits = upper
	}
	u := math.Float64bits(x)
	e := int(u>>52) & 0x7ff
	m := u & (1<<52 - 1)
	if e != 0 {
		m |= 1 << 52
		e -= 1023
	} else if m != 0 {
		shift := bits.LeadingZeros64(m) - 11
		m <<= uint(shift)
		e = -1022 - shift
	}
	prec := sp.prec
	if prec < 0 {
		if m&(1<<52-1) == 0 {
			prec = 0
		} else {
			prec = 13 - bits.TrailingZeros64(m&(1<<52-1))/4
		}
	} else if prec < 13 {
		m += 1 << uint(51-prec*4)
	}
	b = append(b, '0', digits[17])
	b = append(b, digits[m>>52])
	if prec > 0 || sp.alt {
		b = append(b, '.')
		frac := m & (1<<52 - 1)
		for i := 0; i < prec; i++ {
			if i < 13 {
				b = append(b, digits[(frac>>uint(48-4*i))&15])
			} else {
				b = append(b, '0')
			}
		}
	}
	b = append(b, digits[16])
	if e < 0 {
		b = append(b, '-')
		e = -e
	} else {
		b = append(b, '+')
	}
	return strconv.AppendInt(b, int64(e), 10)
}

// decompose returns m odd and e with x = m * 2^e, for finite x > 0.
func decompose(x float64) (uint64, int) {
	u := math.Float64bits(x)
	e := int(u>>52) & 0x7ff
	m := u & (1<<52 - 1)
	if e == 0 {
		e = -1074
	} else {
		m |= 1 << 52
		e -= 1075
	}
	tz := bits.TrailingZeros64(m)
	return m >> uint(tz), e + tz
}

// isTieFrac reports whether x (> 0, finite) lies exactly halfway between two
// numbers with prec digits after the point. A non-integral double m*2^-k (m
// odd) has exactly k digits after the point, the last one a 5, so that is
// the case only when k == prec+1.
func isTieFrac(x float64, prec int) bool {
	_, e := decompose(x)
	return e < 0 && -e == prec+1
}

// isTieSig reports whether the exact decimal expansion of x (> 0, finite)
// has exactly n+1 significant digits ending in 5, that is, whether rounding
// it to n significant digits meets an exact tie.
func isTieSig(x float64, n int) bool {
	m, e := decompose(x)
	want := n + 1
	if e >= 0 {
		// x = m*2^e is an integer; its digits without trailing zeros are
		// S = m/5^e (S odd), which must be a whole number ending in 5.
		if e > 22 {
			return false
		}
		p5 := pow5(e)
		if m%p5 != 0 {
			return false
		}
		s := m / p5
		return s%5 == 0 && decimalLen(s) == want
	}
	// x = m*5^k / 10^k: its significant digits are those of m*5^k, which
	// is odd and a multiple of 5, so it always ends in 5.
	k := -e
	if k <= 27 {
		hi, lo := bits.Mul64(m, pow5(k))
		if hi == 0 {
			return decimalLen(lo) == want
		}
	}
	if want < 20 {
		return false // m*5^k >= 2^64 has at least 20 digits
	}
	v := new(big.Int).Exp(big.NewInt(5), big.NewInt(int64(k)), nil)
	v.Mul(v, new(big.Int).SetUint64(m))
	return len(v.String()) == want
}

func pow5(k int) uint64 {
	p := uint64(1)
	for ; k > 0; k-- {
		p *= 5
	}
	return p
}

func decimalLen(u uint64) int {
	n := 1
	for u >= 10 {
		u /= 10
		n++
	}
	return n
}

// appendInt appends the integer k (already converted from a Lua number as
// LuaJIT does) by one of C's integer conversions: d i (signed) or o u x X
// (unsigned).
func appendInt(dst []byte, k uint64, sp numSpec) []byte {
	var body [96]byte
	b := body[:0]
	signed := sp.verb == 'd' || sp.verb == 'i'
	if signed {
		if int64(k) < 0 {
			k = -k
			b = append(b, '-')
		} else if sp.plus {
			b = append(b, '+')
		} else if sp.space {
			b = append(b, ' ')
		}
	}
	var digs [24]byte
	d := digs[:0]
	switch {
	case k == 0:
		if sp.prec != 0 || (sp.verb == 'o' && sp.alt) {
			d = append(d, '0')
		}
	case sp.verb == 'x' || sp.verb == 'X':
		d = strconv.AppendUint(d, k, 16)
		if sp.verb == 'X' {
			for i := range d {
				if d[i] >= 'a' {
					d[i] -= 'a' - 'A'
				}
			}
		}
		if sp.alt {
			b = append(b, '0', sp.verb)
		}
	case sp.verb == 'o':
		if sp.alt {
			d = append(d, '0')
		}
		d = strconv.AppendUint(d, k, 8)
	default:
		d = strconv.AppendUint(d, k, 10)
	}
	prefixLen := len(b)
	for i := len(d); i < sp.prec; i++ {
		b = append(b, '0')
	}
	b = append(b, d...)
	return pad(dst, b, prefixLen, sp.width, sp.minus, sp.zero && sp.prec < 0)
}

// numToInt64 converts n as x86-64's cvttsd2si does, which is what LuaJIT's
// (int64_t) casts compile to: out of range and NaN give math.MinInt64.
func numToInt64(n float64) int64 {
	if n != n || n >= 9223372036854775808.0 || n < -9223372036854775808.0 {
		return math.MinInt64
	}
	return int64(n)
}

// numToUint64 converts n as LuaJIT's unsigned conversions (%o %u %x) do.
func numToUint64(n float64) uint64 {
	if n >= 9223372036854775808.0 {
		return uint64(numToInt64(n - 18446744073709551616.0))
	}
	return uint64(numToInt64(n))
}

// isSpace is C's isspace in the "C" locale, which LuaJIT's scanner uses.
func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// canonicalNaN is the NaN x86-64 produces for 0/0 and LuaJIT's scanner
// returns for "nan"; its bit pattern shows through bit.tobit.
func canonicalNaN() float64 { return math.Float64frombits(0xfff8000000000000) }

// maxExp is LuaJIT's STRSCAN_MAXEXP: an exponent with this many units or
// more makes the string no number at all.
const maxExp = 1 << 20

// ParseNumber converts s as LuaJIT's tonumber (and its string-to-number
// coercion for library arguments) does: optional surrounding whitespace, an
// optional sign, then a decimal number with optional fraction and exponent,
// a hexadecimal one ("0x", optional fraction and binary "p" exponent), a
// binary one ("0b"), or "inf", "infinity" or "nan" in any case. It reports
// false for anything else, including an embedded NUL.
func ParseNumber(s string) (float64, bool) {
	i, n := 0, len(s)
	for i < n && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < n && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if i < n && s[i] >= 'A' {
		return parseSpecial(s, i, neg)
	}
	start := i // first mantissa character, after any base prefix
	base := 10
	if i+1 < n && s[i] == '0' {
		switch lowerASCII(s[i+1]) {
		case 'x':
			base = 16
			i += 2
		case 'b':
			base = 2
			i += 2
		}
		start = i
	}
	dig, dp, fracDigits := 0, -1, 0
	for ; i < n; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', base == 16 && lowerASCII(c) >= 'a' && lowerASCII(c) <= 'f':
			dig++
			if dp >= 0 {
				fracDigits++
			}
			continue
		case c == '.':
			if dp >= 0 {
				return 0, false
			}
			dp = i
			continue
		}
		break
	}
	if dig == 0 {
		return 0, false
	}
	mantEnd := i
	if dp >= 0 && base == 2 {
		return 0, false
	}
	exp, hasExp := 0, false
	if base != 2 && i < n && ((base == 10 && lowerASCII(s[i]) == 'e') || (base == 16 && lowerASCII(s[i]) == 'p')) {
		hasExp = true
		i++
		negExp := false
		if i < n && (s[i] == '+' || s[i] == '-') {
			negExp = s[i] == '-'
			i++
		}
		if i >= n || s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		for ; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
			exp = exp*10 + int(s[i]-'0')
			if exp >= maxExp {
				return 0, false
			}
		}
		if negExp {
			exp = -exp
		}
	}
	numEnd := i
	for i < n && isSpace(s[i]) {
		i++
	}
	if i != n {
		return 0, false
	}
	var v float64
	switch base {
	case 10:
		if dp < 0 && !hasExp && dig <= 15 {
			var u uint64
			for j := start; j < mantEnd; j++ {
				u = u*10 + uint64(s[j]-'0')
			}
			v = float64(u)
			break
		}
		if fracDigits >= maxExp {
			return 0, false
		}
		f, err := strconv.ParseFloat(s[start:numEnd], 64)
		if err != nil && !isRangeErr(err) {
			return 0, false
		}
		v = f
	case 16:
		v = hexValue(s[start:mantEnd], exp)
	default:
		if dig > 64 {
			return 0, false
		}
		var u uint64
		for j := start; j < mantEnd; j++ {
			if s[j] != '0' && s[j] != '1' {
				return 0, false
			}
			u = u<<1 | uint64(s[j]-'0')
		}
		v = float64(u)
	}
	if neg {
		v = -v
	}
	return v, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// parseSpecial handles "inf", "infinity" and "nan" after an optional sign,
// starting at s[i].
func parseSpecial(s string, i int, neg bool) (float64, bool) {
	var v float64
	switch {
	case hasPrefixFold(s[i:], "inf"):
		v = math.Inf(1)
		if neg {
			v = math.Inf(-1)
		}
		i += 3
		if hasPrefixFold(s[i:], "inity") {
			i += 5
		}
	case hasPrefixFold(s[i:], "nan"):
		v = canonicalNaN()
		i += 3
	default:
		return 0, false
	}
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return v, i == len(s)
}

// hexValue converts validated hex mantissa digits (with an optional point)
// and a binary exponent to the nearest double: the first 16 significant
// digits are kept exactly and the rest only as a sticky bit, which is
// enough for correct rounding.
func hexValue(mant string, exp int) float64 {
	var x uint64
	sig := 0
	point := strings.IndexByte(mant, '.')
	for i := 0; i < len(mant); i++ {
		c := mant[i]
		if c == '.' {
			continue
		}
		d := uint64(hexDigit(c))
		fracDigit := point >= 0 && i > point
		if sig < 16 {
			if x != 0 || d != 0 {
				x = x<<4 | d
				sig++
			}
			if fracDigit {
				exp -= 4
			}
			continue
		}
		if d != 0 {
			x |= 1
		}
		if !fracDigit {
			exp += 4
		}
	}
	if x == 0 {
		return 0
	}
	// float64(x) rounds to nearest even; the sticky bit sits far below the
	// rounding position, so it only breaks exact-looking ties upward.
	// (A subnormal result is rounded twice; LuaJIT's scanner is exact
	// there, but such literals do not occur in practice.)
	return math.Ldexp(float64(x), exp)
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	default:
		return int(lowerASCII(c)-'a') + 10
	}
}
