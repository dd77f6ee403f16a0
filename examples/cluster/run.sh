#!/bin/sh
# Start three streamlua memcached nodes and nutcracker in front of them, in
# the foreground; Ctrl-C stops everything.
#
#   go build -o /tmp/streamlua ./cmd/streamlua
#   STREAMLUA=/tmp/streamlua examples/cluster/run.sh
#
# Nodes: 127.0.0.1:11221-11223 (metrics on 127.0.0.1:9221-9223/metrics).
# Proxy: 127.0.0.1:22121 (nutcracker's own stats on 127.0.0.1:22222).
set -eu
cd "$(dirname "$0")"
STREAMLUA=${STREAMLUA:-streamlua}
NUTCRACKER=${NUTCRACKER:-nutcracker}
SIZE=${SIZE:-64m}

pids=""
stop() {
	trap - INT TERM EXIT
	# shellcheck disable=SC2086 # word splitting of the pid list is wanted
	[ -n "$pids" ] && kill $pids 2>/dev/null
	wait
}
trap stop INT TERM EXIT

for n in 1 2 3; do
	"$STREAMLUA" serve --listen "127.0.0.1:1122$n" --dict "memcached=$SIZE" \
		--metrics-listen "127.0.0.1:922$n" --log-format json &
	pids="$pids $!"
done
"$NUTCRACKER" -c nutcracker.yml -s 22222 -a 127.0.0.1 -o /dev/stderr &
pids="$pids $!"
echo "cluster up: memcached protocol on 127.0.0.1:22121 (Ctrl-C stops it)" >&2
wait
