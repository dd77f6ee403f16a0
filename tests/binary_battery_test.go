package tests

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
)

// binBattery is the binary protocol sequences TestBinaryDifferential sends
// to memcached 1.6.18 and to streamlua. Each case names what it pins;
// cases marked in a comment as quirks reproduce memcached behaviour that
// looks odd but is what its clients meet.
func binBattery() []binCase {
	const limitKeyK = 1048516 // the largest value memcached -I 1m stores under key "k", flags 0
	big := strings.Repeat("v", limitKeyK)
	noop := string(binReq{op: opNoop, opaque: 77}.encode(0))
	S := func(reqs ...binReq) []binReq { return reqs }
	cs := []binCase{
		// The get family.
		{name: "get miss", steps: [][]binReq{S(bGet(opGet, "k").opq(1))}},
		{name: "getq miss is silent", steps: [][]binReq{S(bGet(opGetQ, "k").opq(2))}},
		{name: "getk miss echoes the key", steps: [][]binReq{S(bGet(opGetK, "k").opq(3))}},
		{name: "getkq miss is silent", steps: [][]binReq{S(bGet(opGetKQ, "k").opq(4))}},
		{name: "get hit", steps: [][]binReq{S(bSet(opSet, "k", "hello", 7, 0)), S(bGet(opGet, "k").opq(9))}},
		{name: "get family hits in one batch", steps: [][]binReq{
			S(bSet(opSet, "k", "v1", 1, 0)),
			S(bGet(opGet, "k").opq(1), bGet(opGetQ, "k").opq(2), bGet(opGetK, "k").opq(3), bGet(opGetKQ, "k").opq(4)),
		}},
		{name: "binary-safe value", steps: [][]binReq{S(bSet(opSet, "bin", "\x00\r\n\x80\xffEND\r\n", 0, 0), bGet(opGetK, "bin"))}},
		{name: "empty value", steps: [][]binReq{S(bSet(opSet, "e", "", 0, 0)), S(bGet(opGet, "e"), bGet(opGetK, "e"))}},
		{name: "largest flags", steps: [][]binReq{S(bSet(opSet, "f", "x", 0xffffffff, 0), bGet(opGet, "f"))}},
		{name: "key of 250 bytes", steps: [][]binReq{S(bSet(opSet, strings.Repeat("a", 250), "x", 0, 0), bGet(opGetK, strings.Repeat("a", 250)))}},
		{name: "control bytes in keys", steps: [][]binReq{S(bSet(opSet, "a b\r\n\x00", "x", 0, 0), bGet(opGetK, "a b\r\n\x00"), bGet(opGet, "a b"))}},
		{name: "get key of 251 bytes closes", closes: true, steps: [][]binReq{S(bGet(opGet, strings.Repeat("a", 251)))}},
		{name: "getq key of 251 bytes closes", closes: true, steps: [][]binReq{S(bGet(opGetQ, strings.Repeat("a", 251)))}},
		{name: "get empty key closes", closes: true, steps: [][]binReq{S(bGet(opGet, ""))}},
		{name: "get with extras closes", closes: true, steps: [][]binReq{S(binReq{op: opGet, key: "k", extras: "abcd"})}},
		{name: "get with a value closes", closes: true, steps: [][]binReq{S(binReq{op: opGet, key: "k", value: "zz"})}},
		{name: "getk with a value closes", closes: true, steps: [][]binReq{S(binReq{op: opGetK, key: "k", value: "zz"})}},
		{name: "get keylen over bodylen closes", closes: true, steps: [][]binReq{S(bGet(opGet, "abc").lens(-1, -1, 2), binReq{raw: "x"})}},
		{name: "data type and vbucket are ignored", steps: [][]binReq{S(bSet(opSet, "k", "v", 0, 0).types(1, 9), bGet(opGet, "k").types(5, 0xffff))}},
		{name: "opaque echoed", steps: [][]binReq{S(bGet(opGet, "k").opq(0xffffffff), bGet(opGetK, "k").opq(0x80000000), bOp(opNoop).opq(12345))}},
		{name: "quiet multi-get", steps: [][]binReq{
			S(bSet(opSetQ, "a", "1", 1, 0), bSet(opSetQ, "c", "333", 3, 0)),
			S(bGet(opGetKQ, "a").opq(1), bGet(opGetKQ, "b").opq(2), bGet(opGetKQ, "c").opq(3), bGet(opGetKQ, "d").opq(4)),
		}},
		{name: "getq multi-get", steps: [][]binReq{
			S(bSet(opSet, "a", "1", 0, 0)),
			S(bGet(opGetQ, "x"), bGet(opGetQ, "a").opq(5), bGet(opGetQ, "y")),
		}},

		// Storage.
		{name: "set add replace", steps: [][]binReq{S(
			bSet(opAdd, "k", "a", 0, 0), bSet(opAdd, "k", "b", 0, 0), bSet(opReplace, "k", "c", 0, 0),
			bSet(opReplace, "z", "d", 0, 0), bSet(opSet, "k", "e", 0, 0), bGet(opGet, "k"), bGet(opGet, "z"))}},
		{name: "quiet storage success is silent", steps: [][]binReq{S(
			bSet(opSetQ, "k", "a", 0, 0), bSet(opAddQ, "n", "b", 0, 0), bSet(opReplaceQ, "k", "c", 0, 0),
			bGet(opGet, "k"), bGet(opGet, "n"))}},
		{name: "quiet storage errors are sent", steps: [][]binReq{S(
			bSet(opSet, "k", "a", 0, 0), bSet(opAddQ, "k", "b", 0, 0).opq(3), bSet(opReplaceQ, "z", "c", 0, 0).opq(4))}},
		{name: "set with matching cas", steps: [][]binReq{
			S(bSet(opSet, "k", "a", 0, 0)), S(bSet(opSet, "k", "b", 0, 0).lastCAS(0), bGet(opGet, "k")),
		}},
		{name: "set with wrong cas", steps: [][]binReq{
			S(bSet(opSet, "k", "a", 0, 0)), S(bSet(opSet, "k", "b", 0, 0).lastCAS(1000), bGet(opGet, "k")),
		}},
		{name: "set with cas on a missing key", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0).withCAS(5), bGet(opGet, "k"))}},
		{name: "add with cas acts as cas", steps: [][]binReq{
			S(bSet(opSet, "k", "a", 0, 0)), S(bSet(opAdd, "k", "b", 0, 0).lastCAS(0), bGet(opGet, "k")),
		}},
		{name: "add with wrong cas", steps: [][]binReq{
			S(bSet(opSet, "k", "a", 0, 0)), S(bSet(opAdd, "k", "b", 0, 0).lastCAS(7), bGet(opGet, "k")),
		}},
		{name: "add with cas on a missing key", steps: [][]binReq{S(bSet(opAdd, "k", "a", 0, 0).withCAS(5))}},
		{name: "replace with matching cas", steps: [][]binReq{
			S(bSet(opSet, "k", "a", 0, 0)), S(bSet(opReplace, "k", "b", 0, 0).lastCAS(0), bGet(opGet, "k")),
		}},
		{name: "setq with wrong cas sends the error", steps: [][]binReq{
			S(bSet(opSet, "k", "a", 0, 0)), S(bSet(opSetQ, "k", "b", 0, 0).lastCAS(3).opq(8)),
		}},
		{name: "setq with matching cas is silent", steps: [][]binReq{
			S(bSet(opSet, "k", "a", 0, 0)), S(bSet(opSetQ, "k", "b", 0, 0).lastCAS(0), bGet(opGet, "k")),
		}},
		{name: "cas of the largest value", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0).withCAS(0xffffffffffffffff))}},
		{name: "relative exptime", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 100), bGet(opGet, "k"))}},
		{name: "absolute exptime in the past", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 1000000000), bGet(opGet, "k"))}},
		{name: "absolute exptime in the future", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0xfffffff0), bGet(opGet, "k"))}},
		{name: "exptime with the top bit set is unsigned", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0x80000000), bGet(opGet, "k"))}},
		{name: "largest value that fits", steps: [][]binReq{S(bSet(opSet, "k", big, 0, 0), bGet(opGetK, "k").opq(1))}},
		{name: "one byte over the limit", steps: [][]binReq{S(bSet(opSet, "k", big+"v", 0, 0).opq(2), bGet(opGet, "k"))}},
		{name: "flags count against the limit", steps: [][]binReq{S(bSet(opSet, "k", big, 1, 0).opq(2), bSet(opSet, "k", big[4:], 1, 0), bGet(opGet, "k").opq(3))}},
		{name: "too large set drops the old value", steps: [][]binReq{
			S(bSet(opSet, "k", "old", 0, 0)), S(bSet(opSet, "k", big+"vv", 0, 0), bGet(opGet, "k")),
		}},
		{name: "too large add keeps the old value", steps: [][]binReq{
			S(bSet(opSet, "k", "old", 0, 0)), S(bSet(opAdd, "k", big+"vv", 0, 0), bGet(opGet, "k")),
		}},
		{name: "too large replace keeps the old value", steps: [][]binReq{
			S(bSet(opSet, "k", "old", 0, 0)), S(bSet(opReplace, "k", big+"vv", 0, 0), bGet(opGet, "k")),
		}},
		{name: "too large setq sends the error", steps: [][]binReq{S(bSet(opSetQ, "k", big+"vv", 0, 0).opq(6), bGet(opGetK, "k"))}},
		{name: "bodylen 0xffffffff set swallows nothing", steps: [][]binReq{S(bSet(opSet, "k", "", 0, 0).lens(-1, -1, 0xffffffff))}},
		{name: "set empty key closes", closes: true, steps: [][]binReq{S(bSet(opSet, "", "abc", 0, 0))}},
		{name: "set with 4 bytes of extras closes", closes: true, steps: [][]binReq{S(binReq{op: opSet, key: "k", extras: "abcd", value: "v"})}},
		{name: "set without extras closes", closes: true, steps: [][]binReq{S(binReq{op: opSet, key: "k", value: "v"})}},
		{name: "setq with 12 bytes of extras closes", closes: true, steps: [][]binReq{S(binReq{op: opSetQ, key: "k", extras: "abcdefghijkl"})}},
		{name: "set extras and key over bodylen closes", closes: true, steps: [][]binReq{S(bSet(opSet, "abc", "", 0, 0).lens(-1, -1, 10), binReq{raw: "x"})}},
		{name: "set key of 251 bytes closes", closes: true, steps: [][]binReq{S(bSet(opSet, strings.Repeat("k", 251), "v", 0, 0))}},
		{name: "sets replace each other", steps: [][]binReq{S(
			bSet(opSet, "k", "1", 1, 0), bGet(opGet, "k"), bSet(opSet, "k", "22", 2, 0), bGet(opGet, "k"),
			bSet(opSet, "k", "333", 3, 0), bGet(opGetK, "k"))}},
		{name: "cas round trip", steps: [][]binReq{
			S(bSet(opSet, "k", "a", 0, 0)),
			S(bGet(opGetK, "k")),
			S(bSet(opSet, "k", "b", 0, 0).lastCAS(0)),
			S(bSet(opSet, "k", "c", 0, 0).lastCAS(0)),
			S(bSet(opSet, "k", "d", 0, 0).lastCAS(1), bGet(opGet, "k")),
		}},

		// Append and prepend.
		{name: "append and prepend", steps: [][]binReq{S(
			bSet(opSet, "k", "mid", 5, 0), bPend(opAppend, "k", "+end"), bPend(opPrepend, "k", "start+"), bGet(opGet, "k"))}},
		{name: "append to a missing key", steps: [][]binReq{S(bPend(opAppend, "z", "x"), bPend(opPrepend, "z", "x"), bGet(opGet, "z"))}},
		{name: "quiet append", steps: [][]binReq{S(
			bSet(opSet, "k", "a", 0, 0), bPend(opAppendQ, "k", "b"), bPend(opPrependQ, "k", "c"),
			bPend(opAppendQ, "z", "x").opq(4), bPend(opPrependQ, "z", "x").opq(5), bGet(opGet, "k"))}},
		{name: "append with matching cas", steps: [][]binReq{
			S(bSet(opSet, "k", "a", 0, 0)), S(bPend(opAppend, "k", "b").lastCAS(0), bGet(opGet, "k")),
		}},
		{name: "append with wrong cas", steps: [][]binReq{
			S(bSet(opSet, "k", "a", 0, 0)), S(bPend(opAppend, "k", "b").lastCAS(9), bPend(opPrepend, "k", "c").lastCAS(9), bGet(opGet, "k")),
		}},
		{name: "append with cas on a missing key", steps: [][]binReq{S(bPend(opAppend, "z", "b").withCAS(4))}},
		{name: "append empty data", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bPend(opAppend, "k", ""), bGet(opGet, "k"))}},
		{name: "append binary data", steps: [][]binReq{S(bSet(opSet, "k", "\x00", 0, 0), bPend(opAppend, "k", "\r\n\x00"), bGet(opGet, "k"))}},
		{name: "append past the item size limit", steps: [][]binReq{
			S(bSet(opSet, "k", big[:limitKeyK-10], 0, 0)), S(bPend(opAppend, "k", "0123456789x"), bPend(opAppend, "k", "0123456789"), bGet(opGetQ, "nothing")),
		}},
		{name: "append too large by itself", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bPend(opAppend, "k", big+"vv"), bGet(opGet, "k"))}},
		{name: "append with extras closes", closes: true, steps: [][]binReq{S(binReq{op: opAppend, key: "k", extras: "abcd", value: "v"})}},
		{name: "append empty key closes", closes: true, steps: [][]binReq{S(bPend(opAppend, "", "v"))}},
		{name: "prependq empty key closes", closes: true, steps: [][]binReq{S(bPend(opPrependQ, "", "v"))}},

		// Delete.
		{name: "delete", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bDel(opDelete, "k"), bDel(opDelete, "k"), bGet(opGet, "k"))}},
		{name: "deleteq", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bDel(opDeleteQ, "k"), bDel(opDeleteQ, "k").opq(2))}},
		{name: "delete with matching cas", steps: [][]binReq{
			S(bSet(opSet, "k", "a", 0, 0)), S(bDel(opDelete, "k").lastCAS(0), bGet(opGet, "k")),
		}},
		{name: "delete with wrong cas", steps: [][]binReq{
			S(bSet(opSet, "k", "a", 0, 0)), S(bDel(opDelete, "k").lastCAS(2), bDel(opDeleteQ, "k").lastCAS(2), bGet(opGet, "k")),
		}},
		{name: "delete with cas on a missing key", steps: [][]binReq{S(bDel(opDelete, "k").withCAS(11))}},
		{name: "delete with extras closes", closes: true, steps: [][]binReq{S(binReq{op: opDelete, key: "k", extras: "abcd"})}},
		{name: "delete with a value closes", closes: true, steps: [][]binReq{S(binReq{op: opDelete, key: "k", value: "v"})}},
		{name: "delete empty key closes", closes: true, steps: [][]binReq{S(bDel(opDelete, ""))}},

		// Increment and decrement.
		{name: "incr creates, counts, decr", steps: [][]binReq{S(
			bArith(opIncrement, "n", 1, 5, 0), bArith(opIncrement, "n", 10, 5, 0), bArith(opDecrement, "n", 3, 5, 0), bGet(opGet, "n"))}},
		{name: "decr creates with the initial value", steps: [][]binReq{S(bArith(opDecrement, "n", 1, 9, 0), bGet(opGet, "n"))}},
		{name: "incr 0xffffffff exptime does not create", steps: [][]binReq{S(
			bArith(opIncrement, "n", 1, 5, 0xffffffff), bArith(opDecrement, "n", 1, 5, 0xffffffff), bArith(opIncrementQ, "n", 1, 5, 0xffffffff).opq(3), bGet(opGet, "n"))}},
		// Each step waits for its replies: memcached rewrites a counter in
		// place (keeping its length, space-padded) only when no reply still
		// being written holds the item.
		{name: "decr floors at zero and pads", steps: [][]binReq{
			S(bSet(opSet, "n", "100", 0, 0)), S(bArith(opDecrement, "n", 95, 0, 0)), S(bGet(opGet, "n")),
			S(bArith(opDecrement, "n", 1000, 0, 0)), S(bGet(opGet, "n")),
		}},
		{name: "incr wraps at 2^64", steps: [][]binReq{S(
			bSet(opSet, "n", "18446744073709551615", 0, 0), bArith(opIncrement, "n", 2, 0, 0), bGet(opGet, "n"))}},
		{name: "incr beyond 2^53 is exact", steps: [][]binReq{S(
			bSet(opSet, "n", "9007199254740993", 0, 0), bArith(opIncrement, "n", 2, 0, 0), bArith(opIncrement, "n", 1<<60, 0, 0), bGet(opGet, "n"))}},
		{name: "initial beyond 2^53 is exact", steps: [][]binReq{S(bArith(opIncrement, "n", 1, 18446744073709551615, 0), bGet(opGet, "n"), bArith(opIncrement, "n", 1, 0, 0))}},
		{name: "quiet incr and decr", steps: [][]binReq{S(
			bArith(opIncrementQ, "n", 1, 5, 0), bArith(opIncrementQ, "n", 1, 5, 0), bArith(opDecrementQ, "n", 2, 5, 0), bGet(opGet, "n"),
			bSet(opSet, "t", "text", 0, 0), bArith(opIncrementQ, "t", 1, 0, 0).opq(4), bArith(opDecrementQ, "t", 1, 0, 0).opq(5))}},
		{name: "incr non-numeric", steps: [][]binReq{S(bSet(opSet, "n", "12abc", 0, 0), bArith(opIncrement, "n", 1, 0, 0), bArith(opDecrement, "n", 1, 0, 0))}},
		{name: "incr empty value", steps: [][]binReq{S(bSet(opSet, "n", "", 0, 0), bArith(opIncrement, "n", 1, 0, 0))}},
		{name: "incr with leading spaces", steps: [][]binReq{S(bSet(opSet, "n", "  7", 0, 0), bArith(opIncrement, "n", 1, 0, 0), bGet(opGet, "n"))}},
		{name: "incr with matching cas", steps: [][]binReq{
			S(bSet(opSet, "n", "5", 0, 0)), S(bArith(opIncrement, "n", 1, 0, 0).lastCAS(0), bGet(opGet, "n")),
		}},
		{name: "incr with wrong cas", steps: [][]binReq{
			S(bSet(opSet, "n", "5", 0, 0)), S(bArith(opIncrement, "n", 1, 0, 0).lastCAS(5), bGet(opGet, "n")),
		}},
		{name: "incr empty value with wrong cas", steps: [][]binReq{
			S(bSet(opSet, "n", "", 0, 0)), S(bArith(opIncrement, "n", 1, 0, 0).lastCAS(5)),
		}},
		{name: "incr with cas on a missing key creates", steps: [][]binReq{S(bArith(opIncrement, "n", 1, 3, 0).withCAS(99), bGet(opGet, "n"))}},
		{name: "incr creates an already expired item", steps: [][]binReq{S(bArith(opIncrement, "n", 1, 3, 1000000000), bGet(opGet, "n"))}},
		{name: "incr keeps flags", steps: [][]binReq{S(bSet(opSet, "n", "1", 42, 0), bArith(opIncrement, "n", 1, 0, 0), bGet(opGet, "n"))}},
		{name: "incr with 8 bytes of extras closes", closes: true, steps: [][]binReq{S(binReq{op: opIncrement, key: "n", extras: "12345678"})}},
		{name: "incr with a value closes", closes: true, steps: [][]binReq{S(bArith(opIncrement, "n", 1, 0, 0).withValue("x"))}},
		{name: "decr empty key closes", closes: true, steps: [][]binReq{S(bArith(opDecrement, "", 1, 0, 0))}},

		// Touch and get-and-touch.
		{name: "touch", steps: [][]binReq{S(bSet(opSet, "k", "a", 3, 0), bTouch(opTouch, "k", 100), bTouch(opTouch, "z", 100), bGet(opGet, "k"))}},
		{name: "touch into the past", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bTouch(opTouch, "k", 1000000000), bGet(opGet, "k"))}},
		{name: "gat family hits", steps: [][]binReq{S(
			bSet(opSet, "k", "val", 9, 0), bTouch(opGAT, "k", 100).opq(1), bTouch(opGATQ, "k", 100).opq(2),
			bTouch(opGATK, "k", 100).opq(3), bTouch(opGATKQ, "k", 100).opq(4))}},
		{name: "gat family misses", steps: [][]binReq{S(
			bTouch(opGAT, "z", 100).opq(1), bTouch(opGATQ, "z", 100).opq(2), bTouch(opGATK, "z", 100).opq(3), bTouch(opGATKQ, "z", 100).opq(4))}},
		{name: "gat into the past", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bTouch(opGAT, "k", 1000000000), bGet(opGet, "k"))}},
		{name: "gat keeps the cas", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bTouch(opGAT, "k", 0), bGet(opGet, "k"))}},
		{name: "touch without extras closes", closes: true, steps: [][]binReq{S(bGet(opTouch, "k"))}},
		{name: "gat with 8 bytes of extras closes", closes: true, steps: [][]binReq{S(binReq{op: opGAT, key: "k", extras: "12345678"})}},
		{name: "gatkq empty key closes", closes: true, steps: [][]binReq{S(bTouch(opGATKQ, "", 10))}},
		// Quirk: touch does not check the body length; the extra bytes are
		// read as the next request.
		{name: "touch with a trailing request", steps: [][]binReq{S(bTouch(opTouch, "z", 10).withValue(noop))}},

		// Flush.
		{name: "flush", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bOp(opFlush).opq(5), bGet(opGet, "k"))}},
		{name: "flushq", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bOp(opFlushQ), bGet(opGet, "k"))}},
		{name: "flush with a delay", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bFlushIn(opFlush, 100), bGet(opGet, "k"))}},
		{name: "flush at a time before the start", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bFlushIn(opFlush, 1000000000), bGet(opGet, "k"))}},
		{name: "flush with 2 bytes of extras closes", closes: true, steps: [][]binReq{S(binReq{op: opFlush, extras: "ab"})}},
		{name: "flush with a key closes", closes: true, steps: [][]binReq{S(binReq{op: opFlush, key: "k"})}},
		{name: "flush with a value closes", closes: true, steps: [][]binReq{S(binReq{op: opFlush, extras: "\x00\x00\x00\x00", value: "v"})}},

		// No-op, version, quit.
		{name: "noop", steps: [][]binReq{S(bOp(opNoop).opq(3), bOp(opNoop).opq(4))}},
		{name: "version", steps: [][]binReq{S(bOp(opVersion).opq(3))}},
		{name: "version with a key closes", closes: true, steps: [][]binReq{S(binReq{op: opVersion, key: "k"})}},
		{name: "noop with extras closes", closes: true, steps: [][]binReq{S(binReq{op: opNoop, extras: "abcd"})}},
		{name: "quit", closes: true, steps: [][]binReq{S(bOp(opQuit).opq(8))}},
		{name: "quitq", closes: true, steps: [][]binReq{S(bOp(opQuitQ).opq(8))}},
		{name: "replies before quit", closes: true, steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bGet(opGet, "k"), bOp(opQuit))}},
		{name: "quit with a key closes", closes: true, steps: [][]binReq{S(binReq{op: opQuit, key: "k"})}},

		// Statistics.
		{name: "stat", steps: [][]binReq{S(bStat("").opq(1))}},
		{name: "stat settings", steps: [][]binReq{S(bStat("settings").opq(2))}},
		{name: "stat items", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bStat("items").opq(3))}},
		{name: "stat slabs", steps: [][]binReq{S(bSet(opSet, "k", "a", 0, 0), bStat("slabs").opq(4))}},
		{name: "stat sizes", steps: [][]binReq{S(bStat("sizes").opq(5))}},
		{name: "stat reset", steps: [][]binReq{S(bStat("reset").opq(6), bStat("resetting").opq(7))}},
		{name: "stat detail", steps: [][]binReq{S(bStat("detail on"), bStat("detail off"), bStat("detail dump"), bStat("detail bogus"))}},
		{name: "stat prefixes", steps: [][]binReq{S(bStat("settingsX").opq(1), bStat("detail offX").opq(2))}},
		{name: "stat unknown groups", steps: [][]binReq{S(bStat("bogus").opq(1), bStat("conns").opq(2), bStat("item").opq(3), bStat("itemsX").opq(4))}},
		{name: "stat with extras closes", closes: true, steps: [][]binReq{S(binReq{op: opStat, extras: "abcd"})}},
		// Quirk: stat does not check the body length either.
		{name: "stat with a trailing request", steps: [][]binReq{S(bStat("sizes").withValue(noop))}},

		// Unknown opcodes and SASL (not enabled).
		{name: "unknown opcode", steps: [][]binReq{S(bOp(0x40).opq(1), bOp(0xff).opq(2), bOp(0x25).opq(3))}},
		// Quirk: after an unknown opcode memcached discards bodylen more
		// bytes past the extras and key it has read.
		{name: "unknown opcode swallows bodylen again", steps: [][]binReq{S(binReq{op: 0x40, key: "abc", value: "xyz"}, binReq{raw: "123"})}},
		{name: "verbosity is unknown in 1.6.18", steps: [][]binReq{S(binReq{op: opVerbosity, extras: "\x00\x00\x00\x01"}, binReq{raw: "abcd"})}},
		{name: "unknown opcode with a huge bodylen swallows nothing", steps: [][]binReq{S(bOp(0x41).lens(-1, -1, 0x80000000))}},
		{name: "sasl list mechs", steps: [][]binReq{S(bOp(opSASLList).opq(4))}},
		{name: "sasl auth", steps: [][]binReq{S(binReq{op: opSASLAuth, key: "PLAIN", value: "\x00user\x00pass"})}},
		{name: "sasl step", steps: [][]binReq{S(binReq{op: opSASLStep, key: "PLAIN", value: "abc"})}},
		{name: "sasl list with a key closes", closes: true, steps: [][]binReq{S(binReq{op: opSASLList, key: "k"})}},
		{name: "sasl step without a key closes", closes: true, steps: [][]binReq{S(binReq{op: opSASLStep, value: "abc"})}},

		// Malformed headers.
		{name: "bad magic closes", closes: true, steps: [][]binReq{S(bOp(opNoop)), S(bOp(opNoop).magic(0x00))}},
		{name: "response magic closes", closes: true, steps: [][]binReq{S(bOp(opNoop)), S(bGet(opGet, "k").magic(0x81))}},
		{name: "text after binary closes", closes: true, steps: [][]binReq{S(bOp(opNoop)), S(binReq{raw: "get k\r\n" + strings.Repeat(" ", 20)})}},
		{name: "keylen over bodylen closes", closes: true, steps: [][]binReq{S(bOp(0x40).lens(4, 0, 0), binReq{raw: "abcd"})}},
		{name: "extlen over bodylen closes", closes: true, steps: [][]binReq{S(bOp(opNoop).lens(0, 8, 4), binReq{raw: "abcdefgh"})}},
		{name: "unknown opcode key of 251 bytes closes", closes: true, steps: [][]binReq{S(binReq{op: 0x55, key: strings.Repeat("k", 251)})}},
		{name: "half a header waits", hangs: true, steps: [][]binReq{S(bOp(opNoop)), S(binReq{raw: "\x80\x0a\x00\x00\x00"})}},
		{name: "a key that never comes waits", hangs: true, steps: [][]binReq{S(bGet(opGet, "").lens(6, -1, 6), binReq{raw: "abc"})}},
		{name: "a value that never comes waits", hangs: true, steps: [][]binReq{S(bSet(opSet, "k", "", 0, 0).lens(-1, -1, 1+8+10), binReq{raw: "12345"})}},

		// Pipelines.
		{name: "pipelined mix", steps: [][]binReq{S(
			bSet(opSetQ, "a", "1", 0, 0), bArith(opIncrement, "a", 5, 0, 0).opq(1), bPend(opAppendQ, "a", "0"),
			bGet(opGetK, "a").opq(2), bDel(opDeleteQ, "a"), bGet(opGetKQ, "a").opq(3), bOp(opVersion).opq(4),
			bTouch(opTouch, "a", 10).opq(5), bStat("sizes").opq(6), bOp(opFlushQ), bGet(opGet, "a").opq(7))}},
		{name: "many quiet sets then gets", steps: [][]binReq{manySets(50), manyGets(60)}},
	}
	// Every storage opcode against present and missing keys, quiet or not.
	for _, op := range []byte{opSet, opAdd, opReplace, opSetQ, opAddQ, opReplaceQ} {
		for _, present := range []bool{false, true} {
			name := "storage " + opName(op)
			steps := [][]binReq{}
			if present {
				name += " present"
				steps = append(steps, S(bSet(opSet, "k", "old", 1, 0)))
			} else {
				name += " missing"
			}
			steps = append(steps, S(bSet(op, "k", "new", 2, 0).opq(uint32(op)), bGet(opGet, "k").opq(100)))
			cs = append(cs, binCase{name: name, steps: steps})
		}
	}
	// Every other opcode with a body of one stray byte, which memcached
	// reads differently per opcode.
	for _, op := range []byte{opGet, opGetQ, opGetK, opGetKQ, opDelete, opDeleteQ, opNoop, opVersion, opQuit, opQuitQ,
		opFlush, opFlushQ, opSASLList} {
		cs = append(cs, binCase{name: "stray byte after " + opName(op), closes: true,
			steps: [][]binReq{S(binReq{op: op, key: "k", value: "x"})}})
	}
	// Seeded random sequences, one request per step: every opcode that
	// stores, reads or changes an item, quiet and not, with the last cas
	// the server reported, a cas no item has, or none.
	rng := rand.New(rand.NewPCG(9, 9999))
	for i := range 20 {
		cs = append(cs, binCase{name: fmt.Sprintf("random-%02d", i), steps: binRandomSteps(rng, 10)})
	}
	return cs
}

func opName(op byte) string {
	names := map[byte]string{
		opGet: "get", opSet: "set", opAdd: "add", opReplace: "replace", opDelete: "delete",
		opQuit: "quit", opFlush: "flush", opGetQ: "getq", opNoop: "noop", opVersion: "version",
		opGetK: "getk", opGetKQ: "getkq", opSetQ: "setq", opAddQ: "addq", opReplaceQ: "replaceq",
		opDeleteQ: "deleteq", opQuitQ: "quitq", opFlushQ: "flushq", opSASLList: "sasl-list",
	}
	if n, ok := names[op]; ok {
		return n
	}
	return "op"
}

func manySets(n int) []binReq {
	var out []binReq
	for i := range n {
		k := "key" + strings.Repeat("x", i%7) + string(rune('a'+i%26))
		out = append(out, bSet(opSetQ, k, strings.Repeat("v", i), uint32(i), 0))
	}
	return out
}

func manyGets(n int) []binReq {
	var out []binReq
	for i := range n {
		k := "key" + strings.Repeat("x", i%7) + string(rune('a'+i%26))
		out = append(out, bGet(opGetKQ, k).opq(uint32(i)))
	}
	return out
}

func be32(vs ...uint32) string {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return string(b)
}

func be64(v uint64) string { return string(binary.BigEndian.AppendUint64(nil, v)) }

func bGet(op byte, key string) binReq { return binReq{op: op, key: key} }

func bSet(op byte, key, value string, flags, exptime uint32) binReq {
	return binReq{op: op, key: key, extras: be32(flags, exptime), value: value}
}

func bPend(op byte, key, value string) binReq { return binReq{op: op, key: key, value: value} }

func bDel(op byte, key string) binReq { return binReq{op: op, key: key} }

func bArith(op byte, key string, delta, initial uint64, exptime uint32) binReq {
	return binReq{op: op, key: key, extras: be64(delta) + be64(initial) + be32(exptime)}
}

func bTouch(op byte, key string, exptime uint32) binReq {
	return binReq{op: op, key: key, extras: be32(exptime)}
}

func bFlushIn(op byte, exptime uint32) binReq { return binReq{op: op, extras: be32(exptime)} }

func bOp(op byte) binReq { return binReq{op: op} }

func bStat(group string) binReq { return binReq{op: opStat, key: group} }

// withValue appends v to the body (counted in bodylen).
func (r binReq) withValue(v string) binReq { r.value += v; return r }

// binRandomSteps builds n one-request steps over three keys. Stored
// numbers only grow (increments by small deltas of "0" or of an initial
// value): whether memcached rewrites a shorter result in place, padded
// with spaces, or stores it as a new item depends on whether its LRU
// maintainer thread holds a reference at that moment. Decrements are left
// to the hand-written cases.
func binRandomSteps(rng *rand.Rand, n int) [][]binReq {
	keys := []string{"a", "b", "n"}
	vals := []string{"", "hello", "x\r\ny", "abc def", "0"}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	opOf := func(ops ...byte) byte { return ops[rng.IntN(len(ops))] }
	u32 := func(vs ...uint32) uint32 { return vs[rng.IntN(len(vs))] }
	steps := make([][]binReq, 0, n)
	for range n {
		k := pick(keys)
		var r binReq
		switch rng.IntN(12) {
		case 0, 1:
			r = bSet(opOf(opSet, opSetQ, opAdd, opAddQ, opReplace, opReplaceQ), k, pick(vals), u32(0, 1, 0xffffffff), u32(0, 100))
		case 2, 3, 11:
			r = bGet(opOf(opGet, opGetQ, opGetK, opGetKQ), k)
		case 4:
			r = bPend(opOf(opAppend, opPrepend, opAppendQ, opPrependQ), k, pick(vals))
		case 5:
			r = bDel(opOf(opDelete, opDeleteQ), k)
		case 6, 7:
			r = bArith(opOf(opIncrement, opIncrementQ), k, []uint64{0, 1, 5}[rng.IntN(3)], []uint64{0, 7}[rng.IntN(2)], u32(0, 100, 0xffffffff))
		case 8:
			r = bTouch(opOf(opTouch, opGAT, opGATQ, opGATK, opGATKQ), k, u32(0, 100))
		case 9:
			r = bOp(opNoop)
		default:
			r = bFlushIn(opOf(opFlush, opFlushQ), 0)
		}
		switch rng.IntN(6) {
		case 0:
			r = r.lastCAS(0)
		case 1:
			r = r.withCAS(0xdeadbeef00) // no item has it
		}
		steps = append(steps, []binReq{r.opq(uint32(rng.IntN(1000)))})
	}
	return steps
}
