package ngxre

// flags is the normalised form of an ngx.re options string. Only letters that
// change what a pattern matches are kept, so "jo", "oj" and "" all share one
// cache entry; the hints "j" and "o" are reported separately by parseOpts.
type flags uint16

const (
	flagCaseless   flags = 1 << iota // i
	flagMultiline                    // m
	flagDotAll                       // s
	flagExtended                     // x
	flagAnchored                     // a
	flagDFA                          // d: leftmost-longest, no captures
	flagUTF8                         // u or U
	flagNoUTFCheck                   // U
	flagDupNames                     // D
	flagJS                           // J
)

// parseOpts turns an options string into flags. once reports the "o" hint.
// On an unknown letter it returns ok=false and the offending byte, so the
// caller can raise OpenResty's exact error message.
func parseOpts(opts string) (f flags, once bool, bad byte, ok bool) {
	for i := 0; i < len(opts); i++ {
		switch c := opts[i]; c {
		case 'o':
			once = true
		case 'j':
			// PCRE JIT hint: Go's engines have no JIT, so it changes nothing.
		case 'i':
			f |= flagCaseless
		case 'm':
			f |= flagMultiline
		case 's':
			f |= flagDotAll
		case 'x':
			f |= flagExtended
		case 'a':
			f |= flagAnchored
		case 'd':
			f |= flagDFA
		case 'u':
			f |= flagUTF8
		case 'U':
			f |= flagUTF8 | flagNoUTFCheck
		case 'D':
			f |= flagDupNames
		case 'J':
			f |= flagJS
		default:
			return 0, false, c, false
		}
	}
	return f, once, 0, true
}
