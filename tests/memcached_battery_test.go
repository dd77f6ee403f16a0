package tests

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// mcBattery returns the differential test's sequences: hand-written cases
// for each command and error path, families generated over the number,
// key and flag variants memcached parses specially, and seeded random
// pipelined batches.
func mcBattery() []mcCase {
	var cs []mcCase
	add := func(name string, steps ...string) {
		cs = append(cs, mcCase{name: name, steps: steps})
	}
	addCut := func(name string, steps ...string) {
		cs = append(cs, mcCase{name: name, steps: steps, cut: true})
	}
	addQuiet := func(name string, steps ...string) {
		cs = append(cs, mcCase{name: name, steps: steps, quiet: true})
	}
	k250 := strings.Repeat("k", 250)
	k251 := strings.Repeat("k", 251)
	set := func(key, val string) string {
		return fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", key, len(val), val)
	}

	// Storage and retrieval.
	add("set-get", set("a", "hello"), "get a\r\n")
	add("set-get-flags", "set a 123 0 2\r\nhi\r\nget a\r\n")
	add("set-get-max-flags", "set a 4294967295 0 2\r\nhi\r\nget a\r\ngets a\r\n")
	add("set-empty-value", "set a 0 0 0\r\n\r\nget a\r\n")
	add("get-miss", "get nope\r\n")
	add("get-multi", set("a", "1")+set("b", "22")+"get a nope b a\r\n")
	add("gets-multi", set("a", "1")+set("b", "22")+"gets a b nope\r\n")
	add("bget", set("a", "1")+"bget a\r\n")
	add("get-no-key", "get\r\n")
	add("get-trailing-space", "get \r\n")
	add("gets-no-key", "gets\r\n")
	add("get-spaces", set("a", "1")+"get    a     \r\n")
	add("get-leading-spaces", set("a", "1")+"   get a\r\n")
	add("get-noreply-is-key", set("noreply", "x")+"get noreply\r\n")
	add("get-100-keys", func() string {
		var b strings.Builder
		b.WriteString(set("k7", "seven"))
		b.WriteString("get")
		for i := range 100 {
			fmt.Fprintf(&b, " k%d", i)
		}
		b.WriteString("\r\n")
		return b.String()
	}())
	add("get-30-keys-dup", set("a", "1")+"get"+strings.Repeat(" a", 30)+"\r\n")
	add("add-new", "add a 0 0 1\r\nx\r\nget a\r\n")
	add("add-existing", set("a", "1")+"add a 0 0 1\r\nx\r\nget a\r\n")
	add("replace-missing", "replace a 0 0 1\r\nx\r\nget a\r\n")
	add("replace-existing", set("a", "1")+"replace a 5 0 1\r\nx\r\nget a\r\n")
	add("append", set("a", "12")+"append a 9 0 2\r\n34\r\nget a\r\n")
	add("prepend", set("a", "12")+"prepend a 9 0 2\r\n34\r\nget a\r\n")
	add("append-missing", "append a 0 0 2\r\n34\r\nget a\r\n")
	add("prepend-missing", "prepend a 0 0 2\r\n34\r\nget a\r\n")
	add("append-keeps-flags", "set a 7 0 1\r\nx\r\nappend a 9 0 1\r\ny\r\nget a\r\n")
	add("append-over-limit", set("abc", strings.Repeat("v", 1000000))+"append abc 0 0 100000\r\n"+strings.Repeat("w", 100000)+"\r\nget abc\r\n")
	add("prepend-over-limit", set("abc", strings.Repeat("v", 1000000))+"prepend abc 0 0 100000\r\n"+strings.Repeat("w", 100000)+"\r\nget abc\r\n")
	add("append-empty", set("a", "x")+"append a 0 0 0\r\n\r\nget a\r\n")
	add("set-overwrite", set("a", "1")+set("a", "two")+"get a\r\n")
	add("set-extra-token", "set a 0 0 1 garbage\r\nx\r\nget a\r\n")
	add("set-too-many-tokens", "set a 0 0 1 noreply x\r\nx\r\nget a\r\n")
	add("set-too-few-tokens", "set a 0 0\r\nx\r\n")
	add("set-no-args", "set\r\n")
	add("cas-ok", set("a", "1"), "gets a\r\n", "cas a 0 0 1 $CAS\r\n2\r\nget a\r\n")
	add("cas-stale", set("a", "1"), "gets a\r\n", set("a", "2"), "cas a 0 0 1 $CAS\r\n3\r\nget a\r\n")
	add("cas-missing", "cas a 0 0 1 1\r\nx\r\n")
	add("cas-zero", set("a", "1")+"cas a 0 0 1 0\r\nx\r\n")
	add("cas-noreply", set("a", "1"), "gets a\r\n", "cas a 0 0 1 $CAS noreply\r\n2\r\nget a\r\n")
	add("cas-bad-unique", set("a", "1")+"cas a 0 0 1 abc\r\nx\r\n")
	add("cas-negative-unique", set("a", "1")+"cas a 0 0 1 -1\r\nx\r\n")
	add("cas-huge-unique", set("a", "1")+"cas a 0 0 1 18446744073709551615\r\nx\r\n")
	add("cas-overflow-unique", set("a", "1")+"cas a 0 0 1 18446744073709551616\r\nx\r\n")
	add("cas-too-few", "cas a 0 0 1\r\nx\r\n")
	add("cas-too-many", "cas a 0 0 1 1 noreply x\r\nx\r\n")
	add("gets-changes-after-set", set("a", "1"), "gets a\r\n", set("a", "1"), "gets a\r\n")
	add("gets-same-twice", set("a", "1"), "gets a\r\ngets a\r\n")
	add("touch-keeps-cas", set("a", "1"), "gets a\r\ntouch a 100\r\ngets a\r\n")

	// noreply.
	for _, cmd := range []string{"set", "add", "replace", "append", "prepend"} {
		add(cmd+"-noreply", set("a", "1")+cmd+" a 0 0 1 noreply\r\nx\r\nget a\r\n")
		add(cmd+"-noreply-bad-chunk", set("a", "1")+cmd+" a 0 0 1 noreply\r\nxyz\r\nget a\r\n")
		add(cmd+"-noreply-bad-flags", cmd+" a x 0 1 noreply\r\nx\r\n")
		add(cmd+"-noreply-long-key", cmd+" "+k251+" 0 0 1 noreply\r\nx\r\n")
	}
	add("incr-noreply", set("a", "5")+"incr a 3 noreply\r\nget a\r\n")
	add("incr-noreply-bad-delta", set("a", "5")+"incr a abc noreply\r\nget a\r\n")
	add("incr-noreply-missing", "incr a 3 noreply\r\n")
	add("decr-noreply", set("a", "5")+"decr a 3 noreply\r\nget a\r\n")
	add("delete-noreply", set("a", "5")+"delete a noreply\r\nget a\r\n")
	add("delete-noreply-missing", "delete a noreply\r\n")
	add("touch-noreply", set("a", "5")+"touch a 10 noreply\r\nget a\r\n")
	add("touch-noreply-bad", set("a", "5")+"touch a x noreply\r\n")
	add("flush-noreply", set("a", "5")+"flush_all noreply\r\nget a\r\n")
	add("verbosity-noreply", "verbosity 1 noreply\r\n")
	add("verbosity-noreply-bad", "verbosity x noreply\r\n")
	add("noreply-not-last", set("a", "1")+"set a 0 0 1 noreply\r\nx\r\n")

	// Numbers: flags, exptime and length parsing.
	numbers := []string{
		"0", "7", "+7", "007", "-0", "-1", "1.5", "abc", "12abc", "0x10", "1e2",
		"4294967295", "4294967296", "4294967297", "2147483647", "2147483648",
		"9223372036854775807", "9223372036854775808", "18446744073709551615",
		"18446744073709551616", "-9223372036854775808", "-9223372036854775809",
		"-18446744073709551615", "99999999999999999999", "\t5", "5\t", "5\tx", "5\x0b",
		"-", "+", "1-",
	}
	for i, num := range numbers {
		add(fmt.Sprintf("flags-%02d", i), "set a "+num+" 0 1\r\nx\r\nget a\r\n")
	}
	for i, num := range []string{
		"0", "+0", "-0", "-1", "1.5", "abc", "4294967296", "2147483648", "-2147483649",
		"9223372036854775808", "2592001", "1", "100", "0009",
	} {
		add(fmt.Sprintf("exptime-%02d", i), "set a 0 "+num+" 1\r\nx\r\nget a\r\n")
	}
	for i, num := range []string{
		"-1", "+1", "01", "1.0", "x", "4294967297", "2147483646", "2147483648", "-2147483648",
		"9223372036854775808", "1\t",
	} {
		add(fmt.Sprintf("length-%02d", i), "set a 0 0 "+num+"\r\nx\r\nget a\r\n")
	}

	// Keys.
	for _, cmd := range []string{"get", "gets", "bget", "delete", "mg", "md", "ma", "me"} {
		add(cmd+"-key250", set(k250, "v")+cmd+" "+k250+"\r\n")
		add(cmd+"-key251", cmd+" "+k251+"\r\n")
	}
	add("gat-key251", "gat 10 "+k251+"\r\n")
	add("get-long-key-after-hits", set("a", "1")+set("b", "2"), "get a b "+k251+" a\r\n")
	add("set-key250", "set "+k250+" 0 0 1\r\nx\r\nget "+k250+"\r\n")
	add("set-key251", "set "+k251+" 0 0 1\r\nx\r\n")
	add("add-key251", "add "+k251+" 0 0 1\r\nx\r\n")
	add("cas-key251", "cas "+k251+" 0 0 1 1\r\nx\r\n")
	add("incr-key251", "incr "+k251+" 1\r\n")
	add("touch-key251", "touch "+k251+" 1\r\n")
	add("ms-key251", "ms "+k251+" 1\r\nx\r\n")
	add("key-control-chars", "set k\x01\x7f\x1b 0 0 1\r\nx\r\nget k\x01\x7f\x1b\r\n")
	add("key-tab", "set k\tb 0 0 1\r\nx\r\nget k\tb\r\nget k\r\n")
	add("key-cr-inside", "set k\rb 0 0 1\r\nx\r\nget k\rb\r\n")
	add("key-utf8", "set ключ 0 0 1\r\nx\r\nget ключ\r\n")
	add("key-high-bytes", "set \xff\xfe 0 0 1\r\nx\r\nget \xff\xfe\r\n")
	add("nul-ends-line", set("a", "1")+"get a\x00junk\r\n")
	add("nul-in-set-line", "set a 0 0 1\x00 junk\r\nx\r\nget a\r\n")
	add("bare-lf", "set a 0 0 1\nx\r\nget a\n")
	add("cr-only-line-end", set("a", "1")+"get a\r\r\n")
	add("tab-separator", "get\ta\r\n")

	// Binary-safe values.
	add("value-crlf", set("a", "x\r\ny")+"get a\r\n")
	add("value-nul", set("a", "x\x00y\x00")+"get a\r\n")
	add("value-lf-cr", set("a", "\n\r\r\n\n")+"get a\r\n")
	add("value-looks-like-cmd", set("a", "get a\r\nEND")+"get a\r\n")
	add("value-all-bytes", func() string {
		var b strings.Builder
		for i := range 256 {
			b.WriteByte(byte(i))
		}
		return set("a", b.String()) + "get a\r\n"
	}())

	// Bad data chunks.
	add("chunk-too-long", "set a 0 0 3\r\nabcde\r\nget a\r\n")
	add("chunk-too-long-by-one", "set a 0 0 3\r\nabcd\r\nget a\r\n")
	add("chunk-too-short", "set a 0 0 3\r\nab\r\nget a\r\n")
	add("chunk-lf-only", "set a 0 0 3\r\nabc\nget a\r\n")
	add("chunk-keeps-old", set("a", "old")+"set a 0 0 3\r\nnewx\r\nget a\r\n")
	add("chunk-no-terminator", "set a 0 0 3\r\nabcXYget a\r\n")
	add("chunk-append", set("a", "x")+"append a 0 0 1\r\nyz\r\nget a\r\n")
	add("chunk-cas", set("a", "x")+"cas a 0 0 1 1\r\nyz\r\nget a\r\n")

	// Item size limit (1 MiB items; 1048514 is the largest value for a
	// 3-byte key with flags 0, 1048510 with flags).
	big := func(n int) string { return strings.Repeat("v", n) }
	add("size-max-fits", "set abc 0 0 1048514\r\n"+big(1048514)+"\r\nget abc\r\n")
	add("size-max-plus-one", "set abc 0 0 1048515\r\n"+big(1048515)+"\r\nget abc\r\n")
	add("size-max-flags", "set abc 1 0 1048510\r\n"+big(1048510)+"\r\nset abc 1 0 1048511\r\n"+big(1048511)+"\r\n")
	add("size-too-large-deletes-old", set("abc", "old")+"set abc 0 0 2000000\r\n"+big(2000000)+"\r\nget abc\r\n")
	add("size-too-large-add-keeps-old", set("abc", "old")+"add abc 0 0 2000000\r\n"+big(2000000)+"\r\nget abc\r\n")
	add("size-too-large-replace-keeps-old", set("abc", "old")+"replace abc 0 0 2000000\r\n"+big(2000000)+"\r\nget abc\r\n")
	add("size-too-large-noreply", "set abc 0 0 2000000 noreply\r\n"+big(2000000)+"\r\nget abc\r\n")
	add("size-key250-max", "set "+k250+" 0 0 1048267\r\n"+big(1048267)+"\r\nset "+k250+" 0 0 1048268\r\n"+big(1048268)+"\r\n")
	add("size-million", set("abc", big(1000000))+"get abc\r\n")

	// incr / decr.
	arith := []struct{ name, val, cmd string }{
		{"incr", "5", "incr a 3"},
		{"incr-zero", "0", "incr a 0"},
		{"incr-wrap", "10", "incr a 18446744073709551615"},
		{"incr-max", "18446744073709551614", "incr a 1"},
		{"incr-longer", "99", "incr a 1"},
		{"incr-spaces", " 12 ", "incr a 1"},
		{"incr-leading-zeros", "007", "incr a 1"},
		{"incr-nonnumeric", "abc", "incr a 1"},
		{"incr-trailing-junk", "12ab", "incr a 1"},
		{"incr-negative-value", "-12", "incr a 1"},
		{"incr-plus-value", "+5", "incr a 1"},
		{"incr-minus-zero-value", "-0", "incr a 1"},
		{"incr-minus-wraps-value", "-18446744073709551615", "incr a 1"},
		{"incr-text-after-space", "1 2", "incr a 1"},
		{"incr-tab-value", "\t9\t", "incr a 1"},
		{"incr-crlf-in-value", "12\r\nab", "incr a 1"},
		{"incr-21-digits", "000000000000000000001", "incr a 1"},
		{"incr-over-u64-value", "18446744073709551616", "incr a 1"},
		{"incr-empty-value", "", "incr a 1"},
		{"incr-bad-delta", "5", "incr a abc"},
		{"incr-negative-delta", "5", "incr a -1"},
		{"incr-plus-delta", "5", "incr a +5"},
		{"incr-huge-delta", "5", "incr a 18446744073709551616"},
		{"incr-float-delta", "5", "incr a 1.5"},
		{"incr-missing-delta", "5", "incr a"},
		{"incr-too-many", "5", "incr a 1 noreply x"},
		{"decr", "10", "decr a 3"},
		{"decr-floor", "10", "decr a 100"},
		{"decr-shorter-pads", "100", "decr a 1"},
		{"decr-to-zero", "1000", "decr a 1000"},
		{"decr-nonnumeric", "x1", "decr a 1"},
		{"decr-big", "18446744073709551615", "decr a 1"},
		{"incr-20-digits", "12345678901234567890", "incr a 1"},
	}
	for _, a := range arith {
		add("arith-"+a.name, set("a", a.val)+a.cmd+"\r\nget a\r\n")
	}
	add("incr-missing", "incr nope 1\r\n")
	add("decr-missing", "decr nope 1\r\n")
	add("incr-keeps-flags", "set a 42 0 1\r\n1\r\nincr a 1\r\nget a\r\n")
	add("incr-changes-cas", set("a", "1"), "gets a\r\nincr a 1\r\ngets a\r\n")

	// touch, gat, gats.
	add("touch", set("a", "1")+"touch a 100\r\nget a\r\n")
	add("touch-missing", "touch a 100\r\n")
	add("touch-expire-now", set("a", "1")+"touch a -1\r\nget a\r\n")
	add("touch-bad-exptime", set("a", "1")+"touch a abc\r\n")
	add("touch-too-few", "touch a\r\n")
	add("gat", set("a", "1")+"gat 100 a\r\n")
	add("gats", set("a", "1")+"gats 100 a nope a\r\n")
	add("gat-no-key", "gat 10\r\n")
	add("gat-alone", "gat\r\n")
	add("gat-bad-exptime", set("a", "1")+"gat abc a\r\n")
	add("gat-expire-now", set("a", "1")+"gat -1 a\r\nget a\r\n")
	add("gat-miss", "gat 10 nope\r\n")
	add("gats-alone", "gats\r\n")

	// delete.
	add("delete", set("a", "1")+"delete a\r\nget a\r\n")
	add("delete-missing", "delete a\r\n")
	add("delete-hold-zero", set("a", "1")+"delete a 0\r\nget a\r\n")
	add("delete-hold-zero-noreply", set("a", "1")+"delete a 0 noreply\r\nget a\r\n")
	add("delete-hold-one", set("a", "1")+"delete a 1\r\nget a\r\n")
	add("delete-hold-one-noreply", set("a", "1")+"delete a 1 noreply\r\nget a\r\n")
	add("delete-too-many", "delete a 0 noreply x\r\n")
	add("delete-no-key", "delete\r\n")
	add("delete-twice", set("a", "1")+"delete a\r\ndelete a\r\n")
	add("delete-expired", "set a 0 -1 1\r\nx\r\ndelete a\r\n")

	// Expiry.
	add("exptime-negative", "set a 0 -1 1\r\nx\r\nget a\r\n")
	add("exptime-absolute-past", "set a 0 2592001 1\r\nx\r\nget a\r\n")
	add("exptime-absolute-future", "set a 0 4102444800 1\r\nx\r\nget a\r\n")
	add("exptime-30-days", "set a 0 2592000 1\r\nx\r\nget a\r\n")
	add("exptime-add-over-expired", "set a 0 -1 1\r\nx\r\nadd a 0 0 1\r\ny\r\nget a\r\n")
	add("exptime-replace-expired", "set a 0 -1 1\r\nx\r\nreplace a 0 0 1\r\ny\r\nget a\r\n")
	add("exptime-append-expired", "set a 0 -1 1\r\nx\r\nappend a 0 0 1\r\ny\r\nget a\r\n")
	add("exptime-incr-expired", "set a 0 -1 1\r\n1\r\nincr a 1\r\n")

	// flush_all.
	add("flush", set("a", "1")+"flush_all\r\nget a\r\n")
	add("flush-then-set", set("a", "1")+"flush_all\r\n"+set("a", "2")+"get a\r\n")
	add("flush-zero", set("a", "1")+"flush_all 0\r\nget a\r\n")
	add("flush-negative", set("a", "1")+"flush_all -1\r\nget a\r\n")
	add("flush-delay", set("a", "1")+"flush_all 100\r\nget a\r\nflush_all\r\n")
	add("flush-bad", set("a", "1")+"flush_all abc\r\nget a\r\n")
	add("flush-zero-zero", set("a", "1")+"flush_all 0 0\r\nget a\r\n")
	add("flush-too-many", "flush_all 0 0 0\r\n")
	add("flush-noreply-bad", "flush_all abc noreply\r\n")
	add("flush-delay-noreply", set("a", "1")+"flush_all 100 noreply\r\nget a\r\nflush_all\r\n")
	add("flush-absolute-before-start", set("a", "1")+"flush_all 2592001\r\nget a\r\n")

	// Other commands and the unknown-command paths.
	add("version", "version\r\n")
	add("version-args", "version x y\r\n")
	add("verbosity", "verbosity 1\r\n")
	add("verbosity-none", "verbosity\r\n")
	add("verbosity-bad", "verbosity x\r\n")
	add("verbosity-too-many", "verbosity 1 2 3\r\n")
	add("verbosity-big", "verbosity 99\r\n")
	add("stats", "stats\r\n")
	add("stats-settings", "stats settings\r\n")
	add("stats-items-empty", "stats items\r\n")
	add("stats-slabs-empty", "stats slabs\r\n")
	add("stats-sizes", "stats sizes\r\n")
	add("stats-reset", "stats reset\r\n")
	add("stats-unknown", "stats nonsense\r\n")
	add("stats-detail", "stats detail\r\n")
	add("stats-detail-on", "stats detail on\r\nstats detail off\r\n")
	add("stats-detail-bad", "stats detail x\r\n")
	add("shutdown", "shutdown\r\n")
	add("unknown", "bogus\r\n")
	add("unknown-uppercase", "GET a\r\n")
	add("unknown-g-prefix", "gimme a\r\n")
	add("unknown-s-prefix", "sget a\r\n")
	add("unknown-m-two", "mx a\r\n")
	add("unknown-m-long", "mget a\r\n")
	add("one-char", "g\r\n")
	add("empty-line", "\r\n")
	add("blank-line", "    \r\n")
	add("lf-line", "\n")
	addQuiet("http-get", set("a", "1"), "GET / HTTP/1.1\r\nget a\r\n")
	addQuiet("http-post", "POST /x HTTP/1.0\r\n")
	add("http-after-known-prefix", "get / HTTP/1.1\r\n")
	add("http-s-prefix", "sget / HTTP/1.1\r\n")
	addQuiet("quit", set("a", "1")+"get a\r\nquit\r\nget a\r\n")
	addQuiet("quit-args", "quit now please\r\n")

	// Line-length rules.
	addQuiet("line-2048-no-newline", strings.Repeat("x", 2048))
	addQuiet("line-2049-no-newline", strings.Repeat("x", 2049))
	add("line-5000-with-newline", strings.Repeat("x", 5000)+"\r\n")
	addQuiet("line-get-5000-no-newline", "get "+strings.Repeat("x ", 2500))
	add("line-get-long-complete", set("a", "1")+"get "+strings.Repeat("a ", 3000)+"\r\n")
	addQuiet("line-spaces-then-junk", strings.Repeat(" ", 150)+"get "+strings.Repeat("x", 2000))
	add("line-set-long-key-complete", "set "+strings.Repeat("k", 3000)+" 0 0 1\r\nx\r\n")

	// Data split across packets.
	addCut("cut-set-get", set("a", "hello world")+"get a\r\n")
	addCut("cut-big-value", set("a", strings.Repeat("0123456789", 5000))+"get a\r\n")
	addCut("cut-crlf-value", set("a", "\r\n\r\n")+"get a\r\n")
	addCut("cut-bad-chunk", "set a 0 0 3\r\nabcde\r\nget a\r\n")
	addCut("cut-noreply", "set a 0 0 1 noreply\r\nx\r\nget a\r\n")
	addQuiet("incomplete-data", "set a 0 0 10\r\nabc")
	addQuiet("incomplete-line", "get a")

	// Meta commands.
	add("mg-basic", "ms k 2\r\nhi\r\nmg k\r\nmg k v\r\nmg k v f t s c k O123 q\r\nmg miss v\r\nmg miss v q\r\nmn\r\n")
	add("mg-miss-echo", "mg miss k O9\r\n")
	add("mg-miss-quiet-echo", "mg miss k O9 q\r\nmn\r\n")
	add("mg-hit-quiet", "ms k 1\r\nx\r\nmg k q\r\nmg k q v\r\n")
	add("mg-no-key", "mg\r\n")
	add("mg-flags", "ms k 1 F77 T0\r\nx\r\nmg k f t s v\r\n")
	add("mg-ttl", "ms k 1 T100\r\nx\r\nmg k t\r\n")
	add("mg-touch", "ms k 1\r\nx\r\nmg k T100 t\r\nmg k t\r\n")
	add("mg-touch-t-first", "ms k 1 T50\r\nx\r\nmg k t T100\r\nmg k t\r\n")
	add("mg-touch-bad", "ms k 1\r\nx\r\nmg k Tabc\r\n")
	add("mg-duplicate", "ms k 1\r\nx\r\nmg k v v\r\n")
	add("mg-invalid-flag", "ms k 1\r\nx\r\nmg k z\r\n")
	add("mg-invalid-flag-E", "ms k 1\r\nx\r\nmg k E1\r\n")
	add("mg-invalid-flag-x", "ms k 1\r\nx\r\nmg k x\r\n")
	add("mg-high-byte-flag", "ms k 1\r\nx\r\nmg k \xff\r\n")
	add("mg-opaque-32", "ms k 1\r\nx\r\nmg k O"+strings.Repeat("o", 31)+"\r\nmg miss O"+strings.Repeat("o", 31)+"\r\n")
	add("mg-opaque-33", "ms k 1\r\nx\r\nmg k O"+strings.Repeat("o", 32)+"\r\nmg miss O"+strings.Repeat("o", 32)+"\r\n")
	add("mg-too-many-flags", "mg k"+strings.Repeat(" O1", 18)+"\r\n")
	add("mg-19-tokens", "ms k 1\r\nx\r\nmg k v f t s c k u Oa h l P L T5 q I C1\r\n")
	add("mg-base64", "ms Zm9v 1 b\r\nx\r\nmg Zm9v b v k\r\nmg foo v\r\nmg Zm9v b k O1\r\n")
	add("mg-base64-bad", "mg !!!! b\r\n")
	add("mg-base64-miss", "mg YmFy b k v\r\n")
	add("mg-base64-lenient", "ms Zm9v! 1 b\r\nx\r\nget foo\r\nmg Z*m9v b v\r\n")
	add("mg-base64-padding", "ms Zm8= 1 b\r\nx\r\nget fo\r\nmg Zg== b k\r\nmg Zm9vYg b\r\nmg ==== b\r\nmg Zm==Zm9v b k\r\n")
	add("mg-base64-binary-key", "ms AAEC/w== 2 b\r\nhi\r\nmg AAEC/w== b k v\r\nmd AAEC/w== b\r\n")
	add("mg-unknown-u", "ms k 1\r\nx\r\nmg k u v\r\n")
	add("mg-noop-flags", "ms k 1\r\nx\r\nmg k P L v\r\n")
	add("ms-basic", "ms k 3\r\nabc\r\nget k\r\n")
	add("ms-quiet", "ms k 3 q\r\nabc\r\nmn\r\n")
	add("ms-flags-ttl", "ms k 3 F5 T100\r\nabc\r\ngets k\r\nmg k t f\r\n")
	add("ms-return-flags", "ms k 3 k O77 c\r\nabc\r\n")
	add("ms-no-len", "ms k\r\n")
	add("ms-bad-len", "ms k x\r\nabc\r\n")
	add("ms-negative-len", "ms k -1\r\nabc\r\n")
	add("ms-old-syntax", "ms k S3\r\nabc\r\n")
	add("ms-bad-chunk", "ms k 3\r\nabcd\r\nmg k v\r\n")
	add("ms-bad-chunk-quiet", "ms k 3 q\r\nabcd\r\nmn\r\n")
	add("ms-invalid-flag", "ms k 3 z\r\nabc\r\nmg k v\r\n")
	add("ms-duplicate-flag", "ms k 3 T1 T2\r\nabc\r\nmg k v\r\n")
	add("ms-bad-F", "ms k 3 Fx\r\nabc\r\n")
	add("ms-bad-T", "ms k 3 Tx\r\nabc\r\n")
	add("ms-bad-C", "ms k 3 Cx\r\nabc\r\n")
	add("ms-mode-add", "ms k 1 ME\r\na\r\nms k 1 ME\r\nb\r\nmg k v\r\n")
	add("ms-mode-replace", "ms k 1 MR\r\na\r\nms k 1\r\nb\r\nms k 1 MR\r\nc\r\nmg k v\r\n")
	add("ms-mode-append", "ms k 1 MA\r\na\r\nms k 1\r\nb\r\nms k 1 MA\r\nc\r\nmg k v\r\n")
	add("ms-mode-prepend", "ms k 1\r\nb\r\nms k 1 MP\r\nc\r\nmg k v\r\n")
	add("ms-mode-set", "ms k 1 MS\r\nb\r\nmg k v\r\n")
	add("ms-mode-bad", "ms k 1 MX\r\nb\r\nmg k v\r\n")
	add("ms-mode-long", "ms k 1 MSS\r\nb\r\n")
	add("ms-mode-lowercase", "ms k 1 Ms\r\nb\r\n")
	add("ms-cas", "ms k 1\r\na\r\n", "mg k c\r\n", "ms k 1 C$CAS\r\nb\r\nmg k v\r\n")
	add("ms-cas-mismatch", "ms k 1\r\na\r\nms k 1 C1\r\nb\r\nmg k v\r\n")
	add("ms-cas-missing", "ms k 1 C1\r\nb\r\n")
	add("ms-cas-zero", "ms k 1\r\na\r\nms k 1 C0\r\nb\r\n")
	add("ms-cas-replace-missing", "ms k 1 MR C5\r\nb\r\n")
	add("ms-cas-add-ignored", "ms k 1\r\na\r\nms k 1 ME C1\r\nb\r\n")
	add("ms-cas-append-mismatch", "ms k 1\r\na\r\nms k 1 MA C1\r\nb\r\nmg k v\r\n")
	add("ms-cas-append-match", "ms k 1\r\na\r\n", "mg k c\r\n", "ms k 1 MA C$CAS\r\nb\r\nmg k v\r\n")
	add("ms-cas-append-zero", "ms k 1\r\na\r\nms k 1 MA C0\r\nb\r\nmg k v\r\n")
	add("ms-too-large", "ms k 2000000\r\n"+big(2000000)+"\r\nmg k v\r\n")
	add("ms-too-large-deletes", "ms k 1\r\na\r\nms k 2000000 ME\r\n"+big(2000000)+"\r\nmg k v\r\n")
	add("ms-base64", "ms Zm9v 1 b k\r\nx\r\nget foo\r\n")
	add("ms-base64-bad", "ms !!!! 1 b\r\nx\r\nmn\r\n")
	add("ms-opaque-long", "ms k 1 O"+strings.Repeat("o", 40)+"\r\nx\r\nmg k v\r\n")
	add("ms-opaque-long-bad-mode", "ms k 1 MX O"+strings.Repeat("o", 40)+"\r\nx\r\n")
	add("ms-zero-len", "ms k 0\r\n\r\nmg k v s\r\n")
	add("ms-F-big", "ms k 1 F4294967296\r\nx\r\nmg k f\r\n")
	add("ms-T-negative", "ms k 1 T-1\r\nx\r\nmg k v\r\n")
	add("ms-ignored-flags", "ms k 1 v s t f h l u\r\nx\r\nmg k v\r\n")
	add("md-basic", "ms k 1\r\nx\r\nmd k\r\nmd k\r\nmg k v\r\n")
	add("md-quiet", "ms k 1\r\nx\r\nmd k q\r\nmd k q\r\nmn\r\n")
	add("md-echo", "ms k 1\r\nx\r\nmd k k O5\r\nmd k k O6\r\n")
	add("md-cas-mismatch", "ms k 1\r\nx\r\nmd k C1\r\nmg k v\r\n")
	add("md-cas-match", "ms k 1\r\nx\r\n", "mg k c\r\n", "md k C$CAS\r\nmg k v\r\n")
	add("md-invalid-flag", "md k z\r\n")
	add("md-cas-max", "ms k 1\r\nx\r\nmd k C18446744073709551615\r\nmd k C18446744073709551616\r\nmg k v\r\n")
	add("md-duplicate-flag", "md k q q\r\n")
	add("md-no-key", "md\r\n")
	add("md-base64", "ms Zm9v 1 b\r\nx\r\nmd Zm9v b k\r\nget foo\r\n")
	add("md-opaque-long", "md k O"+strings.Repeat("o", 40)+"\r\n")
	add("ma-basic", "ms n 1\r\n5\r\nma n\r\nma n v\r\nmg n v\r\n")
	add("ma-decr", "ms n 2\r\n10\r\nma n MD v\r\nma n M- D100 v\r\n")
	add("ma-incr-modes", "ms n 1\r\n1\r\nma n MI v\r\nma n M+ v D10\r\n")
	add("ma-bad-mode", "ms n 1\r\n1\r\nma n MX\r\n")
	add("ma-missing", "ma nope\r\nma nope v\r\n")
	add("ma-vivify", "ma nope N0 J13 v\r\nma nope v\r\nmg nope v\r\n")
	add("ma-vivify-quiet", "ma nope N0 J13 q\r\nma nope q\r\nmn\r\n")
	add("ma-vivify-ttl", "ma nope N100 J1 v t\r\n")
	add("ma-quiet", "ms n 1\r\n5\r\nma n q\r\nma n q v\r\nmn\r\nmg n v\r\n")
	add("ma-nonnumeric", "ms n 1\r\nx\r\nma n\r\n")
	add("ma-bad-delta", "ms n 1\r\n1\r\nma n Dx\r\n")
	add("ma-bad-initial", "ma n Jx N0\r\n")
	add("ma-echo", "ms n 1\r\n1\r\nma n k O5 v\r\nma nope k O6\r\n")
	add("ma-cas-mismatch", "ms n 1\r\n1\r\nma n C1 v\r\n")
	add("ma-cas-match", "ms n 1\r\n1\r\n", "mg n c\r\n", "ma n C$CAS v\r\n")
	add("ma-touch", "ms n 1\r\n1\r\nma n T100 t v\r\nmg n t\r\n")
	add("ma-wrap", "ms n 20\r\n18446744073709551615\r\nma n v\r\n")
	// Stale-while-revalidate: vivify (N), recache (R), invalidate (I) and
	// the W/Z/X return flags, and the fetched bit (h, me fetch=).
	add("mg-vivify", "mg v N30 v t\r\nmg v N30 v t\r\nmg v v\r\nms v 1\r\nz\r\nmg v v\r\n")
	add("mg-vivify-ttl-order", "mg v t N30 T90 t c\r\nmg v t\r\n")
	add("mg-vivify-quiet", "mg v N30 q\r\nmg v N30 q\r\nmn\r\n")
	add("mg-vivify-hit-no-effect", "ms v 1 T100\r\nx\r\nmg v N30 t v\r\n")
	add("mg-recache", "ms r 1 T100\r\nx\r\nmg r R200 v\r\nmg r R200 v\r\nmg r\r\nmg r R50\r\n")
	add("mg-recache-below", "ms r 1 T100\r\nx\r\nmg r R50 v\r\nmg r R100\r\n")
	add("mg-recache-no-ttl", "ms r 1\r\nx\r\nmg r R200 v\r\n")
	add("mg-recache-touch-first", "ms r 1 T100\r\nx\r\nmg r T10 R20 t\r\nms s 1 T100\r\nx\r\nmg s R20 T10 t\r\n")
	add("mg-recache-bad", "ms r 1 T100\r\nx\r\nmg r Rx\r\n")
	add("md-invalidate", "ms d 1 T100\r\nx\r\nmd d I T30\r\nmg d v t\r\nmg d v\r\nget d\r\nmg d\r\n")
	add("md-invalidate-quiet-miss", "md d I q\r\nms d 1\r\nx\r\nmd d I q\r\nmn\r\nmg d\r\n")
	add("md-invalidate-cas", "ms d 1\r\nx\r\n", "mg d c\r\n", "md d I C1\r\nmd d I C$CAS\r\nmg d c v\r\n")
	add("md-invalidate-token-again", "ms d 1\r\nx\r\nmd d I\r\nmg d\r\nmg d\r\nmd d I\r\nmg d\r\n")
	add("ms-invalidate-older-cas", "ms d 1\r\nx\r\nms d 1\r\ny\r\nms d 1 I C1\r\nz\r\nmg d v\r\n")
	add("ms-invalidate-cas0", "ms d 1\r\nx\r\nms d 1 I C0\r\nz\r\nmg d v\r\n")
	add("ms-invalidate-newer-cas", "ms d 1\r\nx\r\nms d 1 I C999999\r\nz\r\nmg d v\r\n")
	add("ms-invalidate-keeps-token", "ms d 1 T100\r\nx\r\nmd d I\r\nmg d\r\nms d 1 I C1\r\ny\r\nmg d v t\r\n")
	add("ms-invalidate-no-cas", "ms d 1\r\nx\r\nmd d I\r\nms d 1 I\r\ny\r\nmg d v\r\n")
	add("ms-clears-stale", "ms d 1\r\nx\r\nmd d I\r\nmg d\r\nms d 1\r\ny\r\nmg d v\r\n")
	add("mg-hit-before", "ms h 1\r\nx\r\nmg h h\r\nmg h h\r\nset h 0 0 1\r\ny\r\nmg h h u\r\nmg h h\r\n")
	add("mg-hit-before-classic", "set h 0 0 1\r\nx\r\nget h\r\nmg h h\r\nset g 0 0 1\r\nx\r\ntouch g 100\r\nmg g h\r\n")
	// An append builds a new item, which has not been fetched. (An incr
	// whose result fits is rewritten in place and keeps the bit, but only
	// when nothing else holds a reference on the item at that moment, and
	// memcached's LRU maintainer thread sometimes does: not comparable.)
	add("mg-hit-before-append", "set h 0 0 3\r\n100\r\nget h\r\nmg h h\r\nappend h 0 0 1\r\n5\r\nmg h h\r\n")
	add("mg-hit-before-incr-grows", "set h 0 0 1\r\n9\r\nget h\r\nincr h 1\r\nmg h h v\r\n")
	add("mg-hit-before-me-cas", "ms h 1\r\nx\r\nme h\r\nms h 1 c\r\ny\r\nmg h h\r\n")
	add("ma-vivify-ttl-order", "ma a c t N50 T70\r\nmg a t\r\nma b N50 t\r\n")
	add("ma-quiet-touch", "ms n 1\r\n5\r\nma n q T100\r\nmg n t v\r\n")
	add("ma-cas-empty", "mg e N30\r\nma e C1\r\nms f 0\r\n\r\nma f v D5 C1\r\n")
	add("ma-no-key", "ma\r\n")
	add("ma-duplicate", "ma n v v\r\n")
	add("mn", "mn\r\n")
	add("mn-args", "mn a b c\r\n")
	add("me-hit", "set k 0 0 1\r\nx\r\nme k\r\n")
	add("me-flags", "set k 5 100 3\r\nabc\r\nme k\r\n")
	add("me-miss", "me nope\r\n")
	add("me-no-key", "me\r\n")
	add("me-base64", "ms Zm9v 1 b\r\nx\r\nme Zm9v b\r\n")
	add("me-base64-bad", "me !!!! b\r\n")
	add("meta-pipeline-quiet", "ms a 1 q\r\n1\r\nms b 1 q\r\n2\r\nmg a v q\r\nmg c v q\r\nmg b v q k\r\nmd a q\r\nmd c q\r\nmn\r\n")

	// Families over commands with wrong token counts.
	for _, line := range []string{
		"add a 0 0\r\n", "replace a\r\n", "append\r\n", "prepend a 0 0 1 x y\r\n",
		"incr\r\n", "incr a\r\n", "decr a 1 2 3\r\n", "touch\r\n", "touch a 1 2 3\r\n",
		"cas a 0 0\r\n", "flush_all 1 2 3 4\r\n", "gets\r\n", "gat 1\r\n", "mg\r\n",
	} {
		add("tokens-"+strings.TrimSpace(strings.ReplaceAll(line, " ", "_")), line)
	}

	// Many tokens: memcached splits at most 24 per pass.
	add("tokens-set-24", "set a 0 0 1"+strings.Repeat(" x", 20)+"\r\nx\r\n")
	add("tokens-unknown-http-late", "bogus"+strings.Repeat(" x", 30)+" HTTP/1.1\r\n")
	addQuiet("tokens-unknown-http-23rd", "bogus"+strings.Repeat(" x", 21)+" HTTP/1.1"+strings.Repeat(" y", 5)+"\r\n")

	// Seeded random meta sequences: mg/ms/ma/md with random flag sets
	// (stale-while-revalidate included) among classic commands, one
	// command per step so that C$CAS can use the last cas seen.
	mrng := rand.New(rand.NewPCG(7, 7777))
	for i := range 40 {
		add(fmt.Sprintf("random-meta-%02d", i), mcRandomMeta(mrng, 12)...)
	}

	// Seeded random pipelined batches, each sent in one go and again cut
	// at random byte boundaries.
	rng := rand.New(rand.NewPCG(42, 4242))
	for i := range 40 {
		batch := mcRandomBatch(rng, 5+rng.IntN(20))
		add(fmt.Sprintf("random-batch-%02d", i), batch)
		addCut(fmt.Sprintf("random-batch-%02d-cut", i), batch)
	}
	return cs
}

// mcRandomBatch builds a pipelined batch of n commands over a handful of
// keys, valid and invalid, so that the servers' states stay comparable.
func mcRandomBatch(rng *rand.Rand, n int) string {
	keys := []string{"a", "b", "c", "n", "long" + strings.Repeat("x", 240)}
	vals := []string{"", "1", "42", "hello", "x\r\ny", "\x00\x01", strings.Repeat("z", 3000), "18446744073709551615"}
	var b strings.Builder
	for range n {
		k := keys[rng.IntN(len(keys))]
		v := vals[rng.IntN(len(vals))]
		nr := ""
		if rng.IntN(5) == 0 {
			nr = " noreply"
		}
		switch rng.IntN(22) {
		case 0, 1, 2:
			fmt.Fprintf(&b, "set %s %d 0 %d%s\r\n%s\r\n", k, rng.IntN(3), len(v), nr, v)
		case 3:
			fmt.Fprintf(&b, "add %s 0 0 %d%s\r\n%s\r\n", k, len(v), nr, v)
		case 4:
			fmt.Fprintf(&b, "replace %s 0 0 %d%s\r\n%s\r\n", k, len(v), nr, v)
		case 5:
			fmt.Fprintf(&b, "append %s 0 0 %d%s\r\n%s\r\n", k, len(v), nr, v)
		case 6:
			fmt.Fprintf(&b, "prepend %s 0 0 %d%s\r\n%s\r\n", k, len(v), nr, v)
		case 7, 8, 9:
			fmt.Fprintf(&b, "get %s\r\n", k)
		case 10:
			fmt.Fprintf(&b, "get %s %s\r\n", k, keys[rng.IntN(len(keys))])
		case 11:
			fmt.Fprintf(&b, "incr %s %d%s\r\n", k, rng.IntN(100), nr)
		case 12:
			fmt.Fprintf(&b, "decr %s %d%s\r\n", k, rng.IntN(100), nr)
		case 13:
			fmt.Fprintf(&b, "delete %s%s\r\n", k, nr)
		case 14:
			fmt.Fprintf(&b, "touch %s %d%s\r\n", k, rng.IntN(1000), nr)
		case 15:
			fmt.Fprintf(&b, "mg %s v f s k\r\n", k)
		case 16:
			fmt.Fprintf(&b, "ms %s %d F%d\r\n%s\r\n", k, len(v), rng.IntN(9), v)
		case 17:
			fmt.Fprintf(&b, "md %s q\r\n", k)
		case 18:
			fmt.Fprintf(&b, "ma %s v\r\n", k)
		case 19:
			b.WriteString("bogus command\r\n")
		case 20:
			fmt.Fprintf(&b, "set %s 0 0 %d\r\n%sXX\r\n", k, len(v), v)
		case 21:
			b.WriteString("mn\r\n")
		}
	}
	return b.String()
}

// mcRandomMeta builds n single-command steps over three keys, mostly meta
// commands with random flag sets drawn from what memcached 1.6.18 accepts
// (and some it refuses), so that flag interactions the hand-written cases
// do not name are compared too.
func mcRandomMeta(rng *rand.Rand, n int) []string {
	// Whether memcached rewrites an incremented number in place (keeping
	// the item's fetched, stale and token bits, and padding a shorter
	// result) or builds a new item depends on whether its LRU maintainer
	// thread holds a reference at that moment. So no stored value is a
	// number, arithmetic goes to "n" alone, and nothing that shows those
	// bits or the padding (mg, ms, md, gets, gat) looks at "n".
	keys, arith := []string{"a", "b"}, "n"
	vals := []string{"", "hello", "x\r\ny", "-5", "abc def"}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	flags := func(pool []string, max int) string {
		var b strings.Builder
		for range rng.IntN(max + 1) {
			b.WriteString(" ")
			b.WriteString(pick(pool))
		}
		return b.String()
	}
	mgFlags := []string{"v", "f", "s", "k", "c", "h", "O1", "Oab", "q", "N30", "T50", "E77", "T0", "N0", "I", "R30", "x", "u"}
	msFlags := []string{"F3", "T50", "T0", "T-1", "q", "k", "c", "O9", "I", "C$CAS", "C1", "E88", "MS", "ME", "MA", "MP", "MR", "Ms", "MX", "N30", "b"}
	maFlags := []string{"N0", "N50", "J13", "D5", "D18446744073709551615", "MI", "MD", "M+", "M-", "Mx", "q", "v", "c", "k", "O5", "T50", "C$CAS", "C1", "t"}
	mdFlags := []string{"q", "k", "O3", "C$CAS", "C1", "I", "T30", "x", "E5"}
	steps := make([]string, 0, n)
	for range n {
		k, v := pick(keys), pick(vals)
		var s string
		switch rng.IntN(14) {
		case 0, 1:
			s = fmt.Sprintf("ms %s %d%s\r\n%s\r\n", k, len(v), flags(msFlags, 4), v)
		case 2, 3, 4:
			s = fmt.Sprintf("mg %s%s\r\n", k, flags(mgFlags, 5))
		case 5, 6:
			s = fmt.Sprintf("ma %s%s\r\n", arith, flags(maFlags, 4))
		case 7:
			s = fmt.Sprintf("md %s%s\r\n", k, flags(mdFlags, 3))
		case 8:
			s = fmt.Sprintf("set %s %d %s %d\r\n%s\r\n", pick([]string{k, arith}), rng.IntN(3), pick([]string{"0", "0", "100", "-1"}), len(v), v)
		case 9:
			s = fmt.Sprintf("gets %s %s\r\n", k, pick(keys))
		case 10:
			s = fmt.Sprintf("%s %s %s\r\n", pick([]string{"incr", "decr"}), arith, pick([]string{"1", "0", "18446744073709551615", "x"}))
		case 11:
			s = fmt.Sprintf("cas %s 0 0 %d $CAS\r\n%s\r\n", k, len(v), v)
		case 12:
			s = fmt.Sprintf("%s %s %s\r\n", pick([]string{"touch", "gat", "gats"}), pick([]string{"0", "100", "-1"}), k)
		default:
			s = "mn\r\n"
		}
		steps = append(steps, s)
	}
	return steps
}
