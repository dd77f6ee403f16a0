package ngxre

// A replacement template follows ngx_http_lua_script_compile: "$$" is a
// dollar, "$n" and "${n}" insert capture n (empty when unset or beyond the
// pattern's groups), anything else after "$" makes the template invalid.
// Named references ("$name", "${name}") are invalid too: OpenResty does not
// support them. Templates are walked twice, once to validate and once per
// match to expand, which keeps sub/gsub free of per-call parse allocations.

// templateRef describes the "$..." sequence at tpl[i] (tpl[i] == '$').
// It returns the capture number (-1 for a literal "$"), the index after the
// sequence, and ok=false when the sequence is invalid.
func templateRef(tpl string, i int) (n, next int, ok bool) {
	i++
	if i == len(tpl) {
		return 0, 0, false
	}
	if tpl[i] == '$' {
		return -1, i + 1, true
	}
	numeric := isDigit(tpl[i])
	bracket := false
	if tpl[i] == '{' {
		bracket = true
		i++
		if i == len(tpl) {
			return 0, 0, false
		}
		numeric = isDigit(tpl[i])
	}
	nameLen := 0
	for ; i < len(tpl); i, nameLen = i+1, nameLen+1 {
		ch := tpl[i]
		if ch == '}' && bracket {
			i++
			bracket = false
			break
		}
		if numeric {
			if isDigit(ch) {
				if n < 1<<24 {
					n = n*10 + int(ch-'0')
				}
				continue
			}
			break
		}
		if isWordByte(ch) {
			continue
		}
		break
	}
	if bracket || nameLen == 0 || !numeric {
		return 0, 0, false
	}
	return n, i, true
}

// validTemplate reports whether tpl compiles as a replacement template.
func validTemplate(tpl string) bool {
	for i := 0; i < len(tpl); {
		if tpl[i] != '$' {
			i++
			continue
		}
		_, next, ok := templateRef(tpl, i)
		if !ok {
			return false
		}
		i = next
	}
	return true
}

// expandTemplate appends tpl to dst with captures of subj substituted. tpl
// must have passed validTemplate.
func expandTemplate(dst []byte, tpl, subj string, caps []int) []byte {
	for i := 0; i < len(tpl); {
		j := i
		for j < len(tpl) && tpl[j] != '$' {
			j++
		}
		dst = append(dst, tpl[i:j]...)
		if j == len(tpl) {
			break
		}
		n, next, _ := templateRef(tpl, j)
		switch {
		case n < 0:
			dst = append(dst, '$')
		case 2*n+1 < len(caps) && caps[2*n] >= 0:
			dst = append(dst, subj[caps[2*n]:caps[2*n+1]]...)
		}
		i = next
	}
	return dst
}
