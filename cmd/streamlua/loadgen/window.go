package loadgen

// slot is one outstanding request: what was asked, so the reply can be
// checked against it, and when it was sent, for its latency.
type slot struct {
	op     op
	key    uint32
	opaque uint32
	sent   int64 // nanoseconds since the run's base time
}

// window is the fixed-size FIFO of a connection's outstanding requests.
// Replies arrive in request order, so the oldest slot is always the one the
// next reply answers. Its capacity is the pipelining depth; push refuses to
// exceed it, which is what keeps a connection from running ahead.
type window struct {
	slots []slot
	head  int // index of the oldest outstanding request
	n     int // number outstanding
}

func newWindow(depth int) window {
	return window{slots: make([]slot, depth)}
}

// room is how many more requests may be sent now.
func (w *window) room() int { return len(w.slots) - w.n }

// push records a sent request; it reports false when the window is full.
func (w *window) push(s slot) bool {
	if w.n == len(w.slots) {
		return false
	}
	i := w.head + w.n
	if i >= len(w.slots) {
		i -= len(w.slots)
	}
	w.slots[i] = s
	w.n++
	return true
}

// oldest returns the request the next reply answers; ok is false when
// nothing is outstanding.
func (w *window) oldest() (s *slot, ok bool) {
	if w.n == 0 {
		return nil, false
	}
	return &w.slots[w.head], true
}

// pop retires the oldest request.
func (w *window) pop() {
	if w.n == 0 {
		return
	}
	w.head++
	if w.head == len(w.slots) {
		w.head = 0
	}
	w.n--
}
