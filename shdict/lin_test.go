package shdict

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Linearizability of concurrent histories, checked with porcupine. The
// model is per key. CAS uniques are assigned by the store, so the model
// learns them: after a modification the current version's CAS is unknown
// until some get observes it, and it must then exceed every CAS seen for the
// key before.

type linOp uint8

const (
	linSet linOp = iota
	linGet
	linAdd
	linCAS
	linIncr
)

type linInput struct {
	op   linOp
	key  string
	val  Value
	cas  uint64
	step float64
}

type linOutput struct {
	err   string
	found bool
	val   Value
	cas   uint64
	num   float64
}

type linState struct {
	present  bool
	val      Value
	casKnown bool
	cas      uint64
	maxCAS   uint64
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func linStep(st linState, in linInput, out linOutput) (bool, linState) {
	modified := func(v Value) linState {
		return linState{present: true, val: v, maxCAS: st.maxCAS}
	}
	switch in.op {
	case linSet:
		return out.err == "", modified(in.val)
	case linAdd:
		if st.present {
			return out.err == ErrExists.Error(), st
		}
		return out.err == "", modified(in.val)
	case linGet:
		if !st.present {
			return !out.found && out.err == "", st
		}
		if !out.found || out.err != "" || out.val != st.val {
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
	case linCAS:
		switch {
		case !st.present:
			return out.err == ErrNotFound.Error(), st
		case st.casKnown && in.cas == st.cas:
			return out.err == "", modified(in.val)
		default:
			// An unknown CAS cannot be the one the client holds: the
			// client learnt its CAS from a get that finished earlier.
			return out.err == ErrExists.Error(), st
		}
	case linIncr:
		switch {
		case !st.present:
			return out.err == ErrNotFound.Error(), st
		case st.val.Kind != KindNumber:
			return out.err == ErrNotNumber.Error(), st
		}
		v := st.val.Num + in.step
		return out.err == "" && out.num == v, modified(Number(v))
	}
	return false, st
}

var linModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(linInput).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		return linStep(state.(linState), input.(linInput), output.(linOutput))
	},
	DescribeOperation: func(input, output any) string {
		return fmt.Sprintf("%+v → %+v", input, output)
	},
}

// runLin applies one input to d.
func runLin(d *Dict, in linInput) linOutput {
	var out linOutput
	var err error
	switch in.op {
	case linSet:
		_, err = d.Set(in.key, in.val, 0, 0)
	case linAdd:
		_, err = d.Add(in.key, in.val, 0, 0)
	case linGet:
		var it Item
		it, out.found, err = d.Get(in.key)
		out.val, out.cas = it.Value, it.CAS
	case linCAS:
		_, err = d.CompareAndSwap(in.key, in.val, 0, 0, in.cas)
	case linIncr:
		out.num, err = d.Incr(in.key, in.step)
	}
	out.err = errText(err)
	return out
}

func TestLinearizable(t *testing.T) {
	cases := []struct {
		name    string
		shards  int
		clients int
		ops     int
		keys    []string
	}{
		{name: "one shard", shards: 1, clients: 4, ops: 600, keys: []string{"x", "y", "z"}},
		{name: "many shards", shards: 8, clients: 6, ops: 500, keys: []string{"a", "b", "c", "d"}},
		{name: "hot key", shards: 2, clients: 5, ops: 300, keys: []string{"hot"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New("lin", 1<<20, Options{Shards: tc.shards})
			if err != nil {
				t.Fatal(err)
			}
			var clock, spin, ready atomic.Int64
			var mu sync.Mutex
			var history []porcupine.Operation
			var wg sync.WaitGroup
			start := make(chan struct{})
			for c := range tc.clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					// Wait until every client is running, so they overlap.
					ready.Add(1)
					for n := 0; ready.Load() < int64(tc.clients) && n < 1e6; n++ {
						runtime.Gosched()
					}
					rng := rand.New(rand.NewPCG(uint64(c), 7))
					lastCAS := map[string]uint64{}
					var local []porcupine.Operation
					for range tc.ops {
						in := linInput{op: linOp(rng.IntN(5)), key: tc.keys[rng.IntN(len(tc.keys))]}
						if rng.IntN(2) == 0 {
							in.val = Number(float64(rng.IntN(4)))
						} else {
							in.val = String(fmt.Sprint("s", rng.IntN(4)))
						}
						in.step = float64(rng.IntN(3))
						in.cas = lastCAS[in.key]
						if rng.IntN(5) == 0 {
							in.cas = rng.Uint64N(4) // usually wrong
						}
						// Vary the pacing so clients overlap in many ways.
						switch rng.IntN(16) {
						case 0:
							runtime.Gosched()
						case 1:
							for i := rng.IntN(500); i > 0; i-- {
								spin.Add(1)
							}
						}
						// Yielding inside the call/return window makes
						// intervals overlap even when the scheduler runs
						// the clients one after another.
						call := clock.Add(1)
						if rng.IntN(4) == 0 {
							runtime.Gosched()
						}
						out := runLin(d, in)
						if rng.IntN(4) == 0 {
							runtime.Gosched()
						}
						ret := clock.Add(1)
						if in.op == linGet && out.found {
							lastCAS[in.key] = out.cas
						}
						local = append(local, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
					}
					mu.Lock()
					history = append(history, local...)
					mu.Unlock()
				}()
			}
			close(start)
			wg.Wait()
			overlapping := 0
			for i, a := range history {
				for j, b := range history {
					if i != j && a.ClientId != b.ClientId && a.Call < b.Return && b.Call < a.Return {
						overlapping++
						break
					}
				}
			}
			t.Logf("%d operations, %d of them concurrent with another client's", len(history), overlapping)
			if overlapping == 0 {
				t.Fatal("no concurrent operations: the check proved nothing")
			}
			res := porcupine.CheckOperationsTimeout(linModel, history, 20*time.Second)
			if res == porcupine.Illegal {
				t.Fatalf("history of %d operations is not linearizable", len(history))
			}
			if res != porcupine.Ok {
				t.Logf("porcupine gave up (%s); treated as a pass", res)
			}
			checkInvariants(t, d)
		})
	}
}

// TestLinearizableModelRejects makes sure the model is not vacuous: each of
// these sequential histories is wrong and must be rejected.
func TestLinearizableModelRejects(t *testing.T) {
	set := func(v Value) (linInput, linOutput) { return linInput{op: linSet, key: "k", val: v}, linOutput{} }
	get := func(found bool, v Value, cas uint64) (linInput, linOutput) {
		return linInput{op: linGet, key: "k"}, linOutput{found: found, val: v, cas: cas}
	}
	type pair struct {
		in  linInput
		out linOutput
	}
	p := func(in linInput, out linOutput) pair { return pair{in, out} }
	cases := []struct {
		name string
		ops  []pair
	}{
		{"stale read", []pair{p(set(String("1"))), p(set(String("2"))), p(get(true, String("1"), 5))}},
		{"phantom", []pair{p(get(true, String("1"), 5))}},
		{"cas changed without a write", []pair{p(set(String("1"))), p(get(true, String("1"), 5)), p(get(true, String("1"), 6))}},
		{"cas went backwards", []pair{p(set(String("1"))), p(get(true, String("1"), 5)), p(set(String("2"))), p(get(true, String("2"), 4))}},
		{"add over a value", []pair{p(set(String("1"))), p(linInput{op: linAdd, key: "k", val: String("2")}, linOutput{})}},
		{"cas with an old unique", []pair{p(set(String("1"))), p(get(true, String("1"), 5)), p(set(String("2"))),
			p(linInput{op: linCAS, key: "k", val: String("3"), cas: 5}, linOutput{})}},
		{"incr on a string", []pair{p(set(String("1"))), p(linInput{op: linIncr, key: "k", step: 1}, linOutput{num: 2})}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h []porcupine.Operation
			for i, op := range tc.ops {
				h = append(h, porcupine.Operation{Input: op.in, Output: op.out, Call: int64(2 * i), Return: int64(2*i + 1)})
			}
			if porcupine.CheckOperations(linModel, h) {
				t.Fatal("the model accepted a wrong history")
			}
		})
	}
	t.Run("a right history passes", func(t *testing.T) {
		h := []porcupine.Operation{
			{Input: linInput{op: linSet, key: "k", val: Number(1)}, Output: linOutput{}, Call: 0, Return: 1},
			{Input: linInput{op: linGet, key: "k"}, Output: linOutput{found: true, val: Number(1), cas: 3}, Call: 2, Return: 3},
			{Input: linInput{op: linCAS, key: "k", val: Number(5), cas: 3}, Output: linOutput{}, Call: 4, Return: 5},
			{Input: linInput{op: linIncr, key: "k", step: 2}, Output: linOutput{num: 7}, Call: 6, Return: 7},
		}
		if !porcupine.CheckOperations(linModel, h) {
			t.Fatal("the model rejected a right history")
		}
	})
}
