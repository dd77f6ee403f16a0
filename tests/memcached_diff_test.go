package tests

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The differential test sends one battery of command sequences to the real
// memcached and to streamlua's bundled memcached server, each sequence on a
// fresh connection to each, and requires byte-identical replies once cas
// values, stats and version strings are normalised. The battery lives in
// memcached_battery_test.go.

// mcCase is one sequence of the battery. Each step is written (in one
// write, or cut at seeded random byte boundaries when cut is set) and
// answered before the next step starts, so a later step can use "$CAS",
// the last cas unique the same server reported. After the last step a
// sentinel command marks the end of the replies, unless the connection is
// expected to close or to be left waiting (quiet), in which case replies
// are read until EOF or until the server has been quiet for a while.
type mcCase struct {
	name  string
	steps []string
	cut   bool
	quiet bool
}

const (
	mcSentinel      = "mg __diff_sentinel__ k\r\n"
	mcSentinelReply = "EN k__diff_sentinel__\r\n"
	mcQuiet         = 150 * time.Millisecond
	mcReadLimit     = 10 * time.Second
)

var (
	mcCASValue = regexp.MustCompile(`(?m)(?:^VALUE \S+ \d+ \d+ (\d+)\r$)|(?:^(?:VA|HD|NS|EX|NF|EN)\b.*? c(\d+)\b)`)
	mcVersion  = regexp.MustCompile(`(?m)^VERSION [^\r\n]*`)
	mcStatRun  = regexp.MustCompile(`(?m)(?:^STAT [^\r\n]*\r\n)+`)
	mcValueCAS = regexp.MustCompile(`(?m)^(VALUE \S+ \d+ \d+ )(\d+)\r$`)
	mcMetaCAS  = regexp.MustCompile(`(?m)^((?:VA|HD|NS|EX|NF)\b[^\r\n]*? c)(\d+)\b`)
	mcMECAS    = regexp.MustCompile(`(?m)^(ME [^\r\n]* )la=\d+ cas=(\d+) fetch=\w+`)
)

// mcRun plays one case against addr and returns everything the server
// sent, and whether the connection ended.
func mcRun(addr string, c mcCase, seed uint64) (string, bool, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return "", false, err
	}
	defer conn.Close()
	rng := rand.New(rand.NewPCG(seed, 7))
	var out strings.Builder
	lastCAS := "0"
	closed := false
	// Every case starts from an empty cache.
	if _, err := io.WriteString(conn, "flush_all noreply\r\n"); err != nil {
		return "", false, err
	}
	for i, s := range c.steps {
		s = strings.ReplaceAll(s, "$CAS", lastCAS)
		last := i == len(c.steps)-1
		useSentinel := !(last && c.quiet)
		if err := mcWrite(conn, s, c.cut, rng); err != nil {
			closed = true
			break
		}
		if useSentinel {
			if _, err := io.WriteString(conn, mcSentinel); err != nil {
				closed = true
				break
			}
		}
		got, eof := mcRead(conn, useSentinel)
		out.WriteString(got)
		if m := mcCASValue.FindAllStringSubmatch(got, -1); len(m) > 0 {
			sm := m[len(m)-1]
			lastCAS = sm[1] + sm[2]
		}
		if eof {
			closed = true
			break
		}
	}
	return out.String(), closed, nil
}

// mcWrite writes s whole, or in pieces split at random points with a
// short pause between them so that the server sees separate reads.
func mcWrite(conn net.Conn, s string, cut bool, rng *rand.Rand) error {
	if !cut || len(s) < 2 {
		_, err := io.WriteString(conn, s)
		return err
	}
	pieces := 1 + rng.IntN(4)
	points := make([]int, 0, pieces)
	for range pieces {
		points = append(points, 1+rng.IntN(len(s)-1))
	}
	start := 0
	for _, p := range sortedUnique(points) {
		if _, err := io.WriteString(conn, s[start:p]); err != nil {
			return err
		}
		start = p
		time.Sleep(2 * time.Millisecond)
	}
	_, err := io.WriteString(conn, s[start:])
	return err
}

func sortedUnique(xs []int) []int {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// mcRead reads until the sentinel's reply ends the output (which it then
// strips), EOF, or, without a sentinel, a quiet period.
func mcRead(conn net.Conn, sentinel bool) (string, bool) {
	var buf []byte
	tmp := make([]byte, 64<<10)
	deadline := time.Now().Add(mcReadLimit)
	for {
		wait := mcQuiet
		if sentinel {
			wait = time.Until(deadline)
		}
		conn.SetReadDeadline(time.Now().Add(wait))
		n, err := conn.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if sentinel && strings.HasSuffix(string(buf), mcSentinelReply) {
			return strings.TrimSuffix(string(buf), mcSentinelReply), false
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return string(buf), false
			}
			return string(buf), true
		}
	}
}

// mcNormalise hides what may legitimately differ: version strings, stats
// contents, and cas values (replaced by their order of first appearance,
// so that "the same cas" and "a new cas" are still compared), plus the
// access history "me" reports.
func mcNormalise(s string) string {
	s = mcVersion.ReplaceAllString(s, "VERSION <version>")
	// Which stats exist, and how many lines a group prints, is not part
	// of the comparison; the END that closes every stats reply is.
	s = mcStatRun.ReplaceAllString(s, "")
	ids := map[string]int{}
	id := func(v string) string {
		n, ok := ids[v]
		if !ok {
			n = len(ids) + 1
			ids[v] = n
		}
		return fmt.Sprintf("<cas%d>", n)
	}
	s = mcValueCAS.ReplaceAllStringFunc(s, func(m string) string {
		sm := mcValueCAS.FindStringSubmatch(m)
		return sm[1] + id(sm[2]) + "\r"
	})
	s = mcMetaCAS.ReplaceAllStringFunc(s, func(m string) string {
		sm := mcMetaCAS.FindStringSubmatch(m)
		return sm[1] + id(sm[2])
	})
	s = mcMECAS.ReplaceAllStringFunc(s, func(m string) string {
		sm := mcMECAS.FindStringSubmatch(m)
		return sm[1] + "la=<la> cas=" + id(sm[2]) + " fetch=<fetch>"
	})
	return s
}

func TestMemcachedDifferential(t *testing.T) {
	ref := startMemcached(t)
	sl := startStreamlua(t)
	cases := mcBattery()
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.name
	}
	checkBattery(t, names, 300)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var wg sync.WaitGroup
			var want, got string
			var wantClosed, gotClosed bool
			var errRef, errSL error
			wg.Add(2)
			go func() {
				defer wg.Done()
				want, wantClosed, errRef = mcRun(ref.Addr, c, uint64(i))
			}()
			go func() {
				defer wg.Done()
				got, gotClosed, errSL = mcRun(sl.Addr, c, uint64(i))
			}()
			wg.Wait()
			if errRef != nil || errSL != nil {
				t.Fatalf("memcached: %v, streamlua: %v", errRef, errSL)
			}
			if nw, ng := mcNormalise(want), mcNormalise(got); nw != ng || wantClosed != gotClosed {
				t.Errorf("replies differ\nsent:      %q\nmemcached: %q (closed %v)\nstreamlua: %q (closed %v)",
					strings.Join(c.steps, "|"), nw, wantClosed, ng, gotClosed)
			}
		})
	}
	if t.Failed() {
		t.Logf("streamlua log:\n%s", sl.Logs())
	}
}
