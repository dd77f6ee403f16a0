package shdict

// parseDecimal reads a stored value as memcached's incr/decr do: an unsigned
// decimal of 1 to 20 digits that fits in 64 bits, optionally surrounded by
// spaces (memcached pads shortened results with trailing spaces, and its
// strtoull skips leading ones). Signs, other characters and empty input are
// rejected.
func parseDecimal(b []byte) (uint64, bool) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	start := i
	var v uint64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i-start == 20 {
			return 0, false
		}
		d := uint64(b[i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false // does not fit in 64 bits
		}
		v = v*10 + d
	}
	if i == start {
		return 0, false
	}
	for ; i < len(b); i++ {
		if b[i] != ' ' {
			return 0, false
		}
	}
	return v, true
}
