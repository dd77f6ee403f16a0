package tests

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Linearizability of the bundled memcached server over the network:
// concurrent clients run set/get(s)/add/cas/incr/delete on a few hot keys,
// each operation is recorded with the time it was sent and the time its
// reply arrived, and porcupine searches for a sequential order consistent
// with both the replies and those intervals.

type relLinKind uint8

const (
	relLinSet relLinKind = iota
	relLinGets
	relLinAdd
	relLinCAS
	relLinIncr
	relLinDelete
)

var relLinNames = [...]string{"set", "gets", "add", "cas", "incr", "delete"}

type relLinIn struct {
	kind  relLinKind
	key   string
	value string // set, add, cas
	token uint64 // cas
	delta uint64 // incr
}

type relLinOut struct {
	reply string // first reply line, CRLF removed ("STORED", "NOT_FOUND", "7", "END" ...)
	value string // gets hit
	cas   uint64 // gets hit
}

// relLinState is one key's state as far as clients can know it. CAS
// uniques are the server's, so after a modification the new unique is
// unknown until a gets reveals it; it must then exceed every unique seen
// for the key before (uniques come from one increasing counter).
type relLinState struct {
	present  bool
	value    string
	casKnown bool
	cas      uint64
	maxCAS   uint64
}

func relLinStep(st relLinState, in relLinIn, out relLinOut) (bool, relLinState) {
	modified := func(v string) relLinState {
		return relLinState{present: true, value: v, maxCAS: st.maxCAS}
	}
	switch in.kind {
	case relLinSet:
		return out.reply == "STORED", modified(in.value)
	case relLinAdd:
		if st.present {
			return out.reply == "NOT_STORED", st
		}
		return out.reply == "STORED", modified(in.value)
	case relLinDelete:
		if st.present {
			return out.reply == "DELETED", relLinState{maxCAS: st.maxCAS}
		}
		return out.reply == "NOT_FOUND", st
	case relLinIncr:
		if !st.present {
			return out.reply == "NOT_FOUND", st
		}
		cur, err := strconv.ParseUint(strings.TrimRight(st.value, " "), 10, 64)
		if err != nil {
			return strings.HasPrefix(out.reply, "CLIENT_ERROR"), st
		}
		next := strconv.FormatUint(cur+in.delta, 10)
		return out.reply == next, modified(next)
	case relLinCAS:
		if !st.present {
			return out.reply == "NOT_FOUND", st
		}
		if st.casKnown && in.token == st.cas {
			return out.reply == "STORED", modified(in.value)
		}
		// An unknown unique is newer than any token a client holds.
		return out.reply == "EXISTS", st
	case relLinGets:
		if !st.present {
			return out.reply == "END", st
		}
		if out.reply != "VALUE" || out.value != st.value {
			return false, st
		}
		if st.casKnown {
			return out.cas == st.cas, st
		}
		if out.cas <= st.maxCAS {
			return false, st
		}
		st.casKnown, st.cas, st.maxCAS = true, out.cas, out.cas
		return true, st
	}
	return false, st
}

var relLinModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(relLinIn).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return relLinState{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		return relLinStep(state.(relLinState), input.(relLinIn), output.(relLinOut))
	},
	Equal: func(a, b interface{}) bool { return a.(relLinState) == b.(relLinState) },
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(relLinIn), output.(relLinOut)
		s := relLinNames[in.kind] + " " + in.key
		switch in.kind {
		case relLinSet, relLinAdd:
			s += " " + in.value
		case relLinCAS:
			s += fmt.Sprintf(" %s token %d", in.value, in.token)
		case relLinIncr:
			s += fmt.Sprintf(" %d", in.delta)
		}
		s += " -> " + out.reply
		if out.reply == "VALUE" {
			s += fmt.Sprintf(" %s cas %d", out.value, out.cas)
		}
		return s
	},
	DescribeState: func(state interface{}) string {
		st := state.(relLinState)
		if !st.present {
			return "absent"
		}
		if st.casKnown {
			return fmt.Sprintf("%q cas %d", st.value, st.cas)
		}
		return fmt.Sprintf("%q cas >%d", st.value, st.maxCAS)
	},
}

// relLinClient runs ops random operations on one connection and records
// them. Every request is answered before the next is sent, so each
// operation's interval is exact.
func relLinClient(addr string, id, ops int, keys []string, seed uint64, start time.Time) ([]porcupine.Operation, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	tokens := map[string]uint64{} // last unique this client saw per key
	history := make([]porcupine.Operation, 0, ops)
	casNext := "" // a key just read with gets: cas it next, so some cas win the race
	for i := 0; i < ops; i++ {
		in := relLinIn{kind: relLinKind(rng.IntN(6)), key: keys[rng.IntN(len(keys))]}
		if casNext != "" {
			in.kind, in.key, casNext = relLinCAS, casNext, ""
		}
		in.value = strconv.Itoa(rng.IntN(1000))
		var req string
		switch in.kind {
		case relLinSet, relLinAdd:
			req = fmt.Sprintf("%s %s 0 0 %d\r\n%s\r\n", relLinNames[in.kind], in.key, len(in.value), in.value)
		case relLinCAS:
			in.token = tokens[in.key]
			if rng.IntN(8) == 0 {
				in.token = rng.Uint64N(1 << 20) // a stale or made-up token
			}
			req = fmt.Sprintf("cas %s 0 0 %d %d\r\n%s\r\n", in.key, len(in.value), in.token, in.value)
		case relLinIncr:
			in.delta = uint64(rng.IntN(5))
			req = fmt.Sprintf("incr %s %d\r\n", in.key, in.delta)
		case relLinGets:
			req = "gets " + in.key + "\r\n"
		case relLinDelete:
			req = "delete " + in.key + "\r\n"
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		call := time.Since(start).Nanoseconds()
		if _, err := c.Write([]byte(req)); err != nil {
			return history, err
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return history, err
		}
		out := relLinOut{reply: strings.TrimSuffix(line, "\r\n")}
		if in.kind == relLinGets && strings.HasPrefix(line, "VALUE ") {
			var k string
			var flags, size int
			if _, err := fmt.Sscanf(line, "VALUE %s %d %d %d\r\n", &k, &flags, &size, &out.cas); err != nil {
				return history, fmt.Errorf("gets reply %q: %v", line, err)
			}
			body := make([]byte, size+2)
			if _, err := io.ReadFull(r, body); err != nil {
				return history, err
			}
			if end, err := r.ReadString('\n'); err != nil || end != "END\r\n" {
				return history, fmt.Errorf("gets: %q %v after the value", end, err)
			}
			out.reply, out.value = "VALUE", string(body[:size])
			tokens[in.key] = out.cas
			casNext = in.key
		}
		ret := time.Since(start).Nanoseconds()
		history = append(history, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
	}
	return history, nil
}

func TestRelLinearizable(t *testing.T) {
	cases := []struct {
		name    string
		clients int
		ops     int
		keys    int
	}{
		{"one hot key", 6, 400, 1},
		{"three hot keys", 8, 500, 3},
	}
	h := startRelHost(t, relHostOptions{dictSize: 1 << 20})
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keys := make([]string, c.keys)
			for i := range keys {
				keys[i] = fmt.Sprintf("lin%d-%d", ci, i)
			}
			start := time.Now()
			var wg sync.WaitGroup
			parts := make([][]porcupine.Operation, c.clients)
			errs := make([]error, c.clients)
			for id := 0; id < c.clients; id++ {
				wg.Add(1)
				go func(id int) {
					defer wg.Done()
					parts[id], errs[id] = relLinClient(h.addr, id, c.ops, keys, uint64(ci+1), start)
				}(id)
			}
			wg.Wait()
			var history []porcupine.Operation
			for id, p := range parts {
				if errs[id] != nil {
					t.Fatalf("client %d: %v", id, errs[id])
				}
				history = append(history, p...)
			}
			// The history must exercise every outcome that matters, or a
			// pass would say little.
			seen := map[string]int{}
			for _, op := range history {
				reply := op.Output.(relLinOut).reply
				if _, err := strconv.Atoi(reply); err == nil {
					reply = "number"
				}
				seen[relLinNames[op.Input.(relLinIn).kind]+" "+reply]++
			}
			for _, want := range []string{"cas STORED", "cas EXISTS", "add STORED", "add NOT_STORED", "incr number", "incr NOT_FOUND", "delete DELETED", "gets VALUE", "gets END"} {
				if seen[want] == 0 {
					t.Fatalf("no %q in the history: %v", want, seen)
				}
			}
			res, info := porcupine.CheckOperationsVerbose(relLinModel, history, time.Minute)
			switch res {
			case porcupine.Ok:
				t.Logf("%d operations by %d clients on %d keys: linearizable (%d successful cas)", len(history), c.clients, c.keys, seen["cas STORED"])
			case porcupine.Illegal:
				path := filepath.Join(os.TempDir(), fmt.Sprintf("streamlua-lin-%d.html", time.Now().UnixNano()))
				if err := porcupine.VisualizePath(relLinModel, info, path); err == nil {
					t.Fatalf("history is not linearizable; see %s", path)
				}
				t.Fatal("history is not linearizable")
			default:
				t.Fatalf("porcupine gave up (%v) on %d operations", res, len(history))
			}
		})
	}
}

// TestRelLinearizabilityModel checks that the model rejects what it must,
// so that a passing TestRelLinearizable means something.
func TestRelLinearizabilityModel(t *testing.T) {
	op := func(client int, call, ret int64, in relLinIn, out relLinOut) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
	}
	set := func(v string) relLinIn { return relLinIn{kind: relLinSet, key: "k", value: v} }
	gets := relLinIn{kind: relLinGets, key: "k"}
	cases := []struct {
		name    string
		history []porcupine.Operation
		ok      bool
	}{
		{"read your write", []porcupine.Operation{
			op(0, 0, 1, set("1"), relLinOut{reply: "STORED"}),
			op(1, 2, 3, gets, relLinOut{reply: "VALUE", value: "1", cas: 5}),
		}, true},
		{"stale read after a completed write", []porcupine.Operation{
			op(0, 0, 1, set("1"), relLinOut{reply: "STORED"}),
			op(0, 2, 3, set("2"), relLinOut{reply: "STORED"}),
			op(1, 4, 5, gets, relLinOut{reply: "VALUE", value: "1", cas: 5}),
		}, false},
		{"concurrent write may be seen or not", []porcupine.Operation{
			op(0, 0, 10, set("2"), relLinOut{reply: "STORED"}),
			op(1, 1, 2, gets, relLinOut{reply: "END"}),
		}, true},
		{"cas unique going backwards", []porcupine.Operation{
			op(0, 0, 1, set("1"), relLinOut{reply: "STORED"}),
			op(1, 2, 3, gets, relLinOut{reply: "VALUE", value: "1", cas: 9}),
			op(0, 4, 5, set("2"), relLinOut{reply: "STORED"}),
			op(1, 6, 7, gets, relLinOut{reply: "VALUE", value: "2", cas: 8}),
		}, false},
		{"cas with a fresh token stores", []porcupine.Operation{
			op(0, 0, 1, set("1"), relLinOut{reply: "STORED"}),
			op(1, 2, 3, gets, relLinOut{reply: "VALUE", value: "1", cas: 9}),
			op(1, 4, 5, relLinIn{kind: relLinCAS, key: "k", value: "3", token: 9}, relLinOut{reply: "STORED"}),
		}, true},
		{"cas with a stale token cannot store", []porcupine.Operation{
			op(0, 0, 1, set("1"), relLinOut{reply: "STORED"}),
			op(1, 2, 3, gets, relLinOut{reply: "VALUE", value: "1", cas: 9}),
			op(0, 4, 5, set("2"), relLinOut{reply: "STORED"}),
			op(1, 6, 7, relLinIn{kind: relLinCAS, key: "k", value: "3", token: 9}, relLinOut{reply: "STORED"}),
		}, false},
		{"lost increment", []porcupine.Operation{
			op(0, 0, 1, set("1"), relLinOut{reply: "STORED"}),
			op(0, 2, 3, relLinIn{kind: relLinIncr, key: "k", delta: 2}, relLinOut{reply: "3"}),
			op(1, 4, 5, relLinIn{kind: relLinIncr, key: "k", delta: 2}, relLinOut{reply: "3"}),
		}, false},
		{"double add", []porcupine.Operation{
			op(0, 0, 5, relLinIn{kind: relLinAdd, key: "k", value: "1"}, relLinOut{reply: "STORED"}),
			op(1, 0, 5, relLinIn{kind: relLinAdd, key: "k", value: "2"}, relLinOut{reply: "STORED"}),
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := porcupine.CheckOperations(relLinModel, c.history); got != c.ok {
				t.Fatalf("linearizable = %v, want %v", got, c.ok)
			}
		})
	}
}
