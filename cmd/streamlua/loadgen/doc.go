// Package loadgen drives a memcached server (text or binary protocol) with
// a fixed mix of GET and SET requests and reports throughput, errors and
// latency percentiles. It is the engine behind `streamlua bench`, written so
// that streamlua and the real memcached can be measured side by side with
// one tool, in the spirit of memtier_benchmark and redis-benchmark.
//
// How a run flows:
//
//  1. Run validates the Config, dials Conns connections and starts one
//     goroutine per connection. That goroutine both writes and reads: a
//     separate writer and reader per connection would double the goroutine
//     switches on a 2-core machine where the generator must stay cheap.
//  2. With Prefill set, every connection first stores its share of the key
//     space (keys i with i % Conns == its index), so that GETs hit. All
//     connections wait at a barrier; the measured phase starts only when the
//     whole key space is stored.
//  3. In the measured phase each connection keeps up to Pipeline requests
//     outstanding (a sliding window). It encodes as many requests as the
//     window has room for into one buffer, sends them with one write, then
//     reads. Every reply that a read completes frees one slot; the freed
//     slots are refilled before the next read, so the window slides one
//     reply at a time rather than waiting for the whole batch.
//  4. Replies are parsed straight out of the connection's read buffer (no
//     bufio, no per-reply allocation). A reply is checked against the
//     request it answers: its kind (a VALUE for the requested key, END,
//     STORED, a binary header echoing the opcode and opaque) and, with
//     Verify, the value bytes themselves. Error replies the protocol allows
//     are counted; anything the protocol does not allow ends that
//     connection, since its stream can no longer be trusted.
//  5. The latency of a request runs from just before the write that sent it
//     to just after the read that completed its reply. It is recorded in the
//     connection's own HDR histogram (microseconds), and the histograms are
//     merged when all connections have finished.
//  6. A run ends when Duration has passed or the Requests budget is spent:
//     connections stop issuing and drain what is outstanding. Every
//     connection also carries an absolute deadline (the end plus Timeout),
//     so a server that stops answering cannot hold the run open; replies
//     that never came are counted as Lost.
//
// With ServerPID set, Run samples the server's CPU time (utime+stime from
// /proc/PID/stat) at the start and end of the measured phase, and its own
// CPU time with getrusage, so a report can say whether the server or the
// generator was the bottleneck.
package loadgen
