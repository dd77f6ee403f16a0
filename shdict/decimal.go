package shdict

// parseDecimal reads a stored value as memcached's incr/decr do, with its
// safe_strtoull on the item's data (which memcached keeps followed by
// "\r\n", so the end of the value counts as white space): leading white
// space, an optional sign, decimal digits (any number of leading zeros) of
// a value below 2^64, then white space or the end. Whatever follows the
// first white space is ignored ("12 ab" is 12). A minus sign negates
// modulo 2^64, and the result is refused if it then reads as a negative
// 64-bit integer: "-0" is 0, "-5" is refused.
func parseDecimal(b []byte) (uint64, bool) {
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	start := i
	var v uint64
	overflow := false
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if v > (1<<64-1-d)/10 {
			overflow = true // strtoull's ERANGE; the digits are still consumed
		} else {
			v = v*10 + d
		}
	}
	if i == start || overflow || (i < len(b) && !isCSpace(b[i])) {
		return 0, false
	}
	if neg {
		v = -v
		if int64(v) < 0 {
			return 0, false
		}
	}
	return v, true
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(b byte) bool { return b == ' ' || (b >= '\t' && b <= '\r') }
