package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Durability: nothing acknowledged is lost, below the capacity at all and
// above it only through counted evictions; and a restart with --snapshot
// brings back every acknowledged key with its flags and remaining ttl.

// relAck is one acknowledged store.
type relAck struct {
	key, value string
	flags      uint32
	exptime    int       // as sent: 0 or seconds
	at         time.Time // when STORED was read
}

// relWriter stores keys prefix0, prefix1, ... on one connection, batch
// requests at a time, until n are acknowledged, stop is closed or the
// connection fails, and returns what was acknowledged.
func relWriter(addr, prefix string, n, valueSize, batch int, stop <-chan struct{}) ([]relAck, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	exptimes := []int{0, 3600, 7200}
	var acks []relAck
	var req strings.Builder
	for i := 0; i < n; i += batch {
		select {
		case <-stop:
			return acks, nil
		default:
		}
		req.Reset()
		pending := make([]relAck, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			key := fmt.Sprintf("%s%d", prefix, j)
			v := key + ":" + strings.Repeat("v", max(0, valueSize-len(key)-1))
			a := relAck{key: key, value: v, flags: uint32(j * 7919), exptime: exptimes[j%len(exptimes)]}
			fmt.Fprintf(&req, "set %s %d %d %d\r\n%s\r\n", key, a.flags, a.exptime, len(v), v)
			pending = append(pending, a)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write([]byte(req.String())); err != nil {
			return acks, err
		}
		for _, a := range pending {
			line, err := r.ReadString('\n')
			if err != nil {
				return acks, err
			}
			if line != "STORED\r\n" {
				return acks, fmt.Errorf("set %s: %q", a.key, line)
			}
			a.at = time.Now()
			acks = append(acks, a)
		}
	}
	return acks, nil
}

// relReadBack checks acknowledged keys with mg (value, flags, ttl) and
// returns the keys that are missing; a present key with the wrong value,
// flags or ttl is a test failure.
func relReadBack(t *testing.T, addr string, acks []relAck) (missing int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	const batch = 100
	for i := 0; i < len(acks); i += batch {
		part := acks[i:min(i+batch, len(acks))]
		var req strings.Builder
		for _, a := range part {
			fmt.Fprintf(&req, "mg %s v f t\r\n", a.key)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write([]byte(req.String())); err != nil {
			t.Fatal(err)
		}
		for _, a := range part {
			head, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if head == "EN\r\n" {
				missing++
				continue
			}
			var size int
			var flags uint32
			var ttl int
			if _, err := fmt.Sscanf(head, "VA %d f%d t%d\r\n", &size, &flags, &ttl); err != nil {
				t.Fatalf("mg %s: %q", a.key, head)
			}
			body := make([]byte, size+2)
			if _, err := io.ReadFull(r, body); err != nil {
				t.Fatal(err)
			}
			if string(body[:size]) != a.value || flags != a.flags {
				t.Fatalf("%s: value %q flags %d, want %q flags %d", a.key, body[:size], flags, a.value, a.flags)
			}
			if a.exptime == 0 {
				if ttl != -1 {
					t.Fatalf("%s: ttl %d, want -1 (never)", a.key, ttl)
				}
			} else {
				// The ttl left cannot exceed what was set, and time since the
				// acknowledgement (plus a second of rounding) bounds what is
				// gone.
				gone := int(time.Since(a.at).Seconds()) + 2
				if ttl > a.exptime || ttl < a.exptime-gone {
					t.Fatalf("%s: ttl %d, want %d..%d", a.key, ttl, a.exptime-gone, a.exptime)
				}
			}
		}
	}
	return missing
}

// relStat reads one general stat.
func relStat(t *testing.T, addr, name string) int {
	t.Helper()
	v, err := strconv.Atoi(statsOfRel(t, roundTrip(t, addr, "stats\r\n", 300*time.Millisecond))[name])
	if err != nil {
		t.Fatalf("stat %s: %v", name, err)
	}
	return v
}

// statsOfRel parses a stats reply.
func statsOfRel(t *testing.T, reply string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(reply, "\r\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) == 3 && f[0] == "STAT" {
			m[f[1]] = f[2]
		}
	}
	if len(m) == 0 {
		t.Fatalf("not a stats reply: %q", reply)
	}
	return m
}

func TestRelNothingAcknowledgedIsLost(t *testing.T) {
	cases := []struct {
		name      string
		dictSize  int64
		writers   int
		perWriter int
		valueSize int
		evicts    bool
	}{
		// 8,000 keys of about 250 bytes: about 3 MiB charged into 16 MiB.
		{"below capacity", 16 << 20, 8, 1000, 100, false},
		// The same flood into 1 MiB (one shard, so one global LRU).
		{"above capacity", 1 << 20, 8, 1000, 100, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := startRelHost(t, relHostOptions{dictSize: c.dictSize})
			var wg sync.WaitGroup
			results := make([][]relAck, c.writers)
			errs := make([]error, c.writers)
			for w := 0; w < c.writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					results[w], errs[w] = relWriter(h.addr, fmt.Sprintf("w%d-", w), c.perWriter, c.valueSize, 50, nil)
				}(w)
			}
			wg.Wait()
			var acks []relAck
			for w := range results {
				if errs[w] != nil {
					t.Fatalf("writer %d: %v", w, errs[w])
				}
				acks = append(acks, results[w]...)
			}
			if len(acks) != c.writers*c.perWriter {
				t.Fatalf("%d stores acknowledged, want %d", len(acks), c.writers*c.perWriter)
			}
			missing := relReadBack(t, h.addr, acks)
			evictions := relStat(t, h.addr, "evictions")
			if !c.evicts && (missing != 0 || evictions != 0) {
				t.Fatalf("below capacity: %d acknowledged keys missing, %d evictions", missing, evictions)
			}
			// Every key was written once and none expires during the test,
			// so each missing key is exactly one eviction.
			if missing != evictions || c.evicts && evictions == 0 {
				t.Fatalf("%d acknowledged keys missing, %d evictions counted", missing, evictions)
			}
			if st := h.dict.Stats(); st.Bytes > st.Capacity {
				t.Fatalf("the dictionary holds %d bytes over its cap of %d", st.Bytes, st.Capacity)
			}
			t.Logf("%d stores acknowledged, %d evicted, the rest read back intact", len(acks), evictions)
		})
	}
}

// TestRelSnapshotRestartUnderLoad sends SIGTERM while writers are storing
// and restarts on the same --snapshot file: every acknowledged key is back
// with its value, flags and remaining ttl.
func TestRelSnapshotRestartUnderLoad(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "memcached.snap")
	args := []string{"--dict", "memcached=32m", "--snapshot", snap}
	p := startStreamlua(t, args...)
	const writers = 4
	stop := make(chan struct{})
	var wg sync.WaitGroup
	results := make([][]relAck, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			// Errors are expected: the server goes away mid-flood.
			results[w], _ = relWriter(p.Addr, fmt.Sprintf("w%d-", w), 1_000_000, 64, 20, stop)
		}(w)
	}
	// Let a few thousand stores through, then stop the server under load.
	waitFor(t, "stores under way", func() bool { return relStatQuiet(p.Addr, "total_items") >= 2000 })
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if err, ok := p.Wait(20 * time.Second); !ok || err != nil {
		t.Fatalf("shutdown: exited %v (%v)\n%s", ok, err, p.Logs())
	}
	close(stop)
	wg.Wait()
	if !strings.Contains(p.Logs(), "snapshot written") {
		t.Fatalf("no snapshot at shutdown:\n%s", p.Logs())
	}
	var acks []relAck
	for _, r := range results {
		acks = append(acks, r...)
	}
	if len(acks) < 2000 {
		t.Fatalf("only %d stores acknowledged", len(acks))
	}
	p2 := startStreamlua(t, args...)
	if !strings.Contains(p2.Logs(), "snapshot loaded") {
		t.Fatalf("snapshot not loaded:\n%s", p2.Logs())
	}
	if missing := relReadBack(t, p2.Addr, acks); missing != 0 {
		t.Fatalf("%d of %d acknowledged keys lost across the restart", missing, len(acks))
	}
	t.Logf("%d keys acknowledged before SIGTERM, all back with value, flags and ttl", len(acks))
}

// relStatQuiet reads one stat, or -1 when it cannot.
func relStatQuiet(addr, name string) int {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return -1
	}
	defer c.Close()
	got, err := relAsk(c, bufio.NewReader(c), "stats\r\n", "END\r\n")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(got, "\r\n") {
		if v, ok := strings.CutPrefix(line, "STAT "+name+" "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return -1
}

// TestRelSnapshotOnDemand: SIGUSR1 writes a snapshot while serving; after
// a crash (SIGKILL, no shutdown snapshot) the restart has exactly what was
// stored before the signal.
func TestRelSnapshotOnDemand(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "memcached.snap")
	args := []string{"--dict", "memcached=8m", "--snapshot", snap}
	p := startStreamlua(t, args...)
	if got := roundTrip(t, p.Addr, "set before 3 0 1\r\nb\r\n", 200*time.Millisecond); got != "STORED\r\n" {
		t.Fatal(got)
	}
	p.Cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, "the SIGUSR1 snapshot", func() bool { return strings.Contains(p.Logs(), "trigger=SIGUSR1") })
	if got := roundTrip(t, p.Addr, "set after 0 0 1\r\na\r\n", 200*time.Millisecond); got != "STORED\r\n" {
		t.Fatal(got)
	}
	p.Cmd.Process.Kill()
	p.Wait(10 * time.Second)
	p2 := startStreamlua(t, args...)
	if got := roundTrip(t, p2.Addr, "get before after\r\n", 300*time.Millisecond); got != "VALUE before 3 1\r\nb\r\nEND\r\n" {
		t.Fatalf("after the crash: %q", got)
	}
}

// TestRelSnapshotKinds restores every kind of value, lists included, with
// flags and ttls, through an init script and a content handler.
func TestRelSnapshotKinds(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "kinds.snap")
	dir := filepath.Join("testdata", "reliability")
	args := []string{"--dict", "kinds=1m", "--snapshot", snap, "--init", filepath.Join(dir, "kinds_init.lua"), "--content", filepath.Join(dir, "kinds_dump.lua")}
	want := strings.Join([]string{
		"list list string:x,number:2,string: 0 h2",
		"no boolean ZmFsc2U= 4294967295 never",
		"num number My4yNQ== 1 h1",
		"seeded number MQ== 0 never",
		"str string YQBiDQpj 7 never",
		"yes boolean dHJ1ZQ== 0 never",
		"end", ""}, "\n")
	p := startStreamlua(t, args...)
	if got := roundTrip(t, p.Addr, "", time.Second); got != want {
		t.Fatalf("seeded:\n%s\nwant:\n%s", got, want)
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if err, ok := p.Wait(20 * time.Second); !ok || err != nil {
		t.Fatalf("shutdown: %v %v\n%s", ok, err, p.Logs())
	}
	// The init script now finds "seeded" and adds nothing: what the dump
	// shows came from the snapshot.
	p2 := startStreamlua(t, args...)
	if got := roundTrip(t, p2.Addr, "", time.Second); got != want {
		t.Fatalf("restored:\n%s\nwant:\n%s\nlog:\n%s", got, want, p2.Logs())
	}
}

// TestRelSnapshotRefusedAtStart: a truncated, corrupt or foreign snapshot
// stops serve with a one-line error and a non-zero exit, and the file is
// left as it was.
func TestRelSnapshotRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.snap")
	p := startStreamlua(t, "--dict", "memcached=8m", "--snapshot", good)
	roundTrip(t, p.Addr, "set a 0 0 5\r\nalpha\r\nset b 0 0 4\r\nbeta\r\n", 200*time.Millisecond)
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if err, ok := p.Wait(20 * time.Second); !ok || err != nil {
		t.Fatalf("shutdown: %v %v", ok, err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	flip := append([]byte(nil), data...)
	flip[len(flip)/2] ^= 0x40
	cases := []struct {
		name string
		data []byte
		dict string
		want string
	}{
		{"truncated", data[:len(data)-3], "memcached=8m", "snapshot is truncated or corrupt"},
		{"corrupt", flip, "memcached=8m", "snapshot is truncated or corrupt"},
		{"foreign", []byte("this is not a snapshot\n"), "memcached=8m", "not a streamlua snapshot"},
		{"dictionary not configured", data, "other=8m", `not configured: "memcached"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".snap")
			os.WriteFile(path, c.data, 0o600)
			_, stderr, code := runCLI(t, "serve", "--listen", "127.0.0.1:0", "--dict", c.dict, "--snapshot", path, "--log-level", "error")
			if code == 0 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, path) {
				t.Fatalf("exit %d, stderr %q; want a failure naming %s and %q", code, stderr, path, c.want)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
				t.Fatalf("want a one-line error, got %q", stderr)
			}
			after, _ := os.ReadFile(path)
			if string(after) != string(c.data) {
				t.Fatal("the refused snapshot was modified")
			}
		})
	}
}

// TestRelSIGUSR1WithoutSnapshot: without --snapshot the signal is logged
// and ignored; by default it would have killed the process.
func TestRelSIGUSR1WithoutSnapshot(t *testing.T) {
	p := startStreamlua(t, "--dict", "memcached=1m")
	p.Cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, "the warning", func() bool { return strings.Contains(p.Logs(), "SIGUSR1 ignored") })
	if err := relVersion(p.Addr); err != nil {
		t.Fatalf("after SIGUSR1: %v\n%s", err, p.Logs())
	}
}
