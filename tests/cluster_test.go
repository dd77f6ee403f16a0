package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// The cluster tests run the layout of examples/cluster: three streamlua
// nodes, each its own memcached with its own dictionary, and something that
// picks a node per key: nutcracker (twemproxy) in front of them, or the
// client itself (pymemcache's HashClient). Both check the same things:
// every key reads back, the keys spread fairly (read from each node's
// memcached-compatible stats), and when a node stops, the other nodes'
// keys still read back and new writes succeed.

const (
	clusterKeys    = 10000
	clusterNewKeys = 1000
	clusterBatch   = 100
	// clusterAttempts bounds the retries a client makes while a stopped
	// node is being detected (nutcracker answers the requests that find
	// it dead with an error; the client retries, as a cache client does).
	clusterAttempts = 40
)

func clusterKey(prefix string, i int) string { return fmt.Sprintf("%s%d", prefix, i) }

func clusterValue(key string) string { return "v-" + key }

// startClusterNodes starts n streamlua memcached nodes.
func startClusterNodes(t *testing.T, n int) []*Proc {
	t.Helper()
	nodes := make([]*Proc, n)
	for i := range nodes {
		nodes[i] = startStreamlua(t, "--dict", "memcached=32m")
	}
	return nodes
}

// stopClusterNode stops a node the way an operator does (SIGINT: graceful
// shutdown) and waits until it has exited.
func stopClusterNode(t *testing.T, p *Proc) {
	t.Helper()
	if err := p.Cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err, exited := p.Wait(30 * time.Second)
	if !exited || err != nil {
		t.Fatalf("node %s did not stop cleanly (exited %v, %v): %s", p.Addr, exited, err, p.Logs())
	}
}

// clusterStats reads a node's "stats" and checks that the fields dashboards
// and exporters read are there and parse as numbers, as memcached's do.
func clusterStats(t *testing.T, addr string) map[string]string {
	t.Helper()
	reply := roundTrip(t, addr, "stats\r\nquit\r\n", 2*time.Second)
	st := map[string]string{}
	for _, line := range strings.Split(reply, "\r\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "STAT" {
			st[f[1]] = f[2]
		}
	}
	if !strings.Contains(reply, "END\r\n") {
		t.Fatalf("stats on %s: no END in %q", addr, reply)
	}
	for _, name := range []string{
		"pid", "uptime", "time", "curr_connections", "total_connections",
		"cmd_get", "cmd_set", "get_hits", "get_misses", "curr_items",
		"total_items", "bytes", "limit_maxbytes", "evictions", "threads",
	} {
		if _, err := strconv.ParseUint(st[name], 10, 64); err != nil {
			t.Errorf("stats on %s: %s = %q is not a number", addr, name, st[name])
		}
	}
	return st
}

// checkClusterShares reads curr_items from each node and requires every
// node to hold between 15% and 55% of want keys, and all of them together
// exactly want.
func checkClusterShares(t *testing.T, nodes []*Proc, want int) {
	t.Helper()
	sum := 0
	for _, p := range nodes {
		n, _ := strconv.Atoi(clusterStats(t, p.Addr)["curr_items"])
		sum += n
		if pct := 100 * float64(n) / float64(want); pct < 15 || pct > 55 {
			t.Errorf("node %s holds %d of %d keys (%.1f%%), want 15%%..55%%", p.Addr, n, want, pct)
		} else {
			t.Logf("node %s holds %d keys (%.1f%%)", p.Addr, n, pct)
		}
	}
	if sum != want {
		t.Errorf("the nodes hold %d items together, want %d", sum, want)
	}
}

// clusterOwners asks every node directly which keys it holds, checking the
// values on the way; it fails the test if a key is on no node or several.
func clusterOwners(t *testing.T, nodes []*Proc, keys []string) map[string]int {
	t.Helper()
	owner := make(map[string]int, len(keys))
	for i, p := range nodes {
		mc := memcache.New(p.Addr)
		mc.Timeout = 5 * time.Second
		for start := 0; start < len(keys); start += clusterBatch {
			batch := keys[start:min(start+clusterBatch, len(keys))]
			got, err := mc.GetMulti(batch)
			if err != nil {
				t.Fatalf("get from node %s: %v", p.Addr, err)
			}
			for k, it := range got {
				if string(it.Value) != clusterValue(k) {
					t.Fatalf("node %s: %s = %q, want %q", p.Addr, k, it.Value, clusterValue(k))
				}
				if prev, dup := owner[k]; dup {
					t.Fatalf("key %s is on node %d and node %d", k, prev, i)
				}
				owner[k] = i
			}
		}
	}
	for _, k := range keys {
		if _, ok := owner[k]; !ok {
			t.Fatalf("key %s is on no node", k)
		}
	}
	return owner
}

// clusterRetry runs op until it succeeds or clusterAttempts run out, and
// returns the last error and how many attempts failed.
func clusterRetry(op func() error) (failures int, err error) {
	for range clusterAttempts {
		if err = op(); err == nil {
			return failures, nil
		}
		failures++
		time.Sleep(50 * time.Millisecond)
	}
	return failures, err
}

// clusterWrite stores every key through mc with a few workers, retrying
// failed sets; it returns how many attempts failed before succeeding.
func clusterWrite(t *testing.T, mc *memcache.Client, keys []string) int {
	t.Helper()
	const workers = 4
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		retried  int
		firstErr error
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(keys); i += workers {
				k := keys[i]
				n, err := clusterRetry(func() error {
					return mc.Set(&memcache.Item{Key: k, Value: []byte(clusterValue(k))})
				})
				mu.Lock()
				retried += n
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("set %s: %v", k, err)
				}
				stop := firstErr != nil
				mu.Unlock()
				if stop {
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return retried
}

// clusterRead reads keys through mc in multi-get batches and requires each
// to come back with its value.
func clusterRead(t *testing.T, mc *memcache.Client, keys []string) {
	t.Helper()
	missing := 0
	for start := 0; start < len(keys); start += clusterBatch {
		batch := keys[start:min(start+clusterBatch, len(keys))]
		var got map[string]*memcache.Item
		if _, err := clusterRetry(func() (err error) {
			got, err = mc.GetMulti(batch)
			return err
		}); err != nil {
			t.Fatalf("get %s…: %v", batch[0], err)
		}
		for _, k := range batch {
			it, ok := got[k]
			switch {
			case !ok:
				missing++
				if missing <= 5 {
					t.Errorf("%s does not read back", k)
				}
			case string(it.Value) != clusterValue(k):
				t.Errorf("%s = %q, want %q", k, it.Value, clusterValue(k))
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d keys do not read back", missing, len(keys))
	}
}

func clusterKeyList(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = clusterKey(prefix, i)
	}
	return keys
}

// nutcrackerConfig rewrites examples/cluster/nutcracker.yml for the test's
// ports, so that the test runs the example's settings (ketama, ejection).
func nutcrackerConfig(t *testing.T, proxy string, nodes []*Proc) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "cluster", "nutcracker.yml"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	subst := map[string]string{"127.0.0.1:22121": proxy}
	for i, p := range nodes {
		subst[fmt.Sprintf("127.0.0.1:%d:1 ", 11221+i)] = p.Addr + ":1 "
	}
	for from, to := range subst {
		if !strings.Contains(conf, from) {
			t.Fatalf("examples/cluster/nutcracker.yml no longer mentions %q; update the test", from)
		}
		conf = strings.ReplaceAll(conf, from, to)
	}
	path := filepath.Join(t.TempDir(), "nutcracker.yml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestClusterNutcracker runs examples/cluster with nutcracker as the proxy.
func TestClusterNutcracker(t *testing.T) {
	bin := needTool(t, "nutcracker")
	nodes := startClusterNodes(t, 3)
	proxy := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := nutcrackerConfig(t, proxy, nodes)
	logFile := filepath.Join(t.TempDir(), "nutcracker.log")
	startProc(t, proxy, bin, "-c", conf, "-o", logFile,
		"-s", strconv.Itoa(freePort(t)), "-a", "127.0.0.1")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("nutcracker log:\n%s", b)
		}
	})

	mc := memcache.New(proxy)
	mc.Timeout = 5 * time.Second
	mc.MaxIdleConns = 8
	keys := clusterKeyList("key", clusterKeys)
	if n := clusterWrite(t, mc, keys); n != 0 {
		t.Errorf("%d sets failed before any node was stopped", n)
	}
	clusterRead(t, mc, keys)
	checkClusterShares(t, nodes, clusterKeys)
	owner := clusterOwners(t, nodes, keys)

	const dead = 1
	stopClusterNode(t, nodes[dead])
	var survivors []string
	for _, k := range keys {
		if owner[k] != dead {
			survivors = append(survivors, k)
		}
	}
	clusterRead(t, mc, survivors)

	fresh := clusterKeyList("fresh", clusterNewKeys)
	retried := clusterWrite(t, mc, fresh)
	t.Logf("%d set attempts failed while nutcracker ejected the stopped node", retried)
	clusterRead(t, mc, fresh)
	live := []*Proc{nodes[0], nodes[2]}
	freshOwner := clusterOwners(t, live, fresh)
	if len(freshOwner) != clusterNewKeys {
		t.Fatalf("the live nodes hold %d of the %d new keys", len(freshOwner), clusterNewKeys)
	}
	for _, p := range live {
		clusterStats(t, p.Addr)
	}
}

// clusterPython finds a python3 that can import pymemcache (Debian's
// python3-pymemcache lives in /usr/bin/python3's dist-packages, which a
// python3 earlier in PATH may not see).
func clusterPython(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, py := range candidates {
		if exec.Command(py, "-c", "import pymemcache.client.hash").Run() == nil {
			return py
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no python3 with pymemcache; .ci/run must install python3-pymemcache")
	}
	t.Skip("no python3 with pymemcache (set CI=1 to make this a failure)")
	return ""
}

// hashClientReport is one JSON line of examples/cluster/hashclient.py.
type hashClientReport struct {
	Phase     string         `json:"phase"`
	Stored    int            `json:"stored"`
	Hits      int            `json:"hits"`
	Misses    int            `json:"misses"`
	Missed    []string       `json:"missed"`
	Wrong     int            `json:"wrong"`
	Errors    int            `json:"errors"`
	Spread    map[string]int `json:"spread"`
	NewStored int            `json:"new_stored"`
	NewHits   int            `json:"new_hits"`
	NewWrong  int            `json:"new_wrong"`
}

// TestClusterHashClient runs the same layout without a proxy: pymemcache's
// HashClient (examples/cluster/hashclient.py) hashes keys to the nodes.
func TestClusterHashClient(t *testing.T) {
	py := clusterPython(t)
	nodes := startClusterNodes(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{filepath.Join("..", "examples", "cluster", "hashclient.py"),
		"--pause", "--prefix", "key", "--keys", strconv.Itoa(clusterKeys),
		"--new-keys", strconv.Itoa(clusterNewKeys)}
	for _, p := range nodes {
		args = append(args, p.Addr)
	}
	cmd := exec.CommandContext(ctx, py, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cancel()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 4<<20)
	next := func(phase string) hashClientReport {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("hashclient.py ended before its %q report: %v\n%s", phase, lines.Err(), stderr.String())
		}
		var r hashClientReport
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil || r.Phase != phase {
			t.Fatalf("hashclient.py printed %q (%v), want its %q report\n%s", lines.Text(), err, phase, stderr.String())
		}
		return r
	}

	w := next("write")
	if w.Stored != clusterKeys || w.Hits != clusterKeys || w.Wrong != 0 || w.Errors != 0 {
		t.Fatalf("before any node stopped: %+v", w)
	}
	checkClusterShares(t, nodes, clusterKeys)
	keys := clusterKeyList("key", clusterKeys)
	owner := clusterOwners(t, nodes, keys)
	for i, p := range nodes {
		held := 0
		for _, o := range owner {
			if o == i {
				held++
			}
		}
		if w.Spread[p.Addr] != held {
			t.Errorf("the client maps %d keys to %s, which holds %d", w.Spread[p.Addr], p.Addr, held)
		}
	}

	const dead = 1
	stopClusterNode(t, nodes[dead])
	if _, err := stdin.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	a := next("after")
	wantMissed := 0
	for _, k := range a.Missed {
		if owner[k] != dead {
			t.Errorf("%s, held by live node %s, no longer reads back", k, nodes[owner[k]].Addr)
		}
	}
	for _, o := range owner {
		if o == dead {
			wantMissed++
		}
	}
	if a.Hits != clusterKeys-wantMissed || len(a.Missed) != wantMissed || a.Wrong != 0 || a.Errors != 0 {
		t.Errorf("after stopping %s: hits %d, missed %d, wrong %d, errors %d; want hits %d, missed %d (the stopped node's keys)",
			nodes[dead].Addr, a.Hits, len(a.Missed), a.Wrong, a.Errors, clusterKeys-wantMissed, wantMissed)
	}
	if a.NewStored != clusterNewKeys || a.NewHits != clusterNewKeys || a.NewWrong != 0 {
		t.Errorf("new writes after the stop: stored %d, read back %d, wrong %d; want %d each and 0 wrong",
			a.NewStored, a.NewHits, a.NewWrong, clusterNewKeys)
	}
	live := []*Proc{nodes[0], nodes[2]}
	if got := clusterOwners(t, live, clusterKeyList("keynew", clusterNewKeys)); len(got) != clusterNewKeys {
		t.Errorf("the live nodes hold %d of the %d new keys", len(got), clusterNewKeys)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("hashclient.py: %v\n%s", err, stderr.String())
	}
}
