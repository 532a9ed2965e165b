#!/usr/bin/env bash
# Push cost on the churn path (issue 18): heap-001 ... heap-010 pushed in turn
# (every profile renumbers its symbols, so no digest hit) over one keep-alive
# connection with bench/pushseries, N pushes with times 10 s apart, against a
# fresh store per binary; the server's own CPU (utime + stime of all its
# threads, /proc/PID/stat) over the run divided by N.
#   bench/push_churn.sh N [PROFEFE_BIN...]   (default: build/profefe)
# Several binaries are measured one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
n=${1:?usage: bench/push_churn.sh N [PROFEFE_BIN...]}
shift
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=("${BUILD:-build}/profefe")
FIX=$PWD/tests/fixtures/pprof
PUSH=${BUILD:-build}/bench/pushseries
[ -x "$PUSH" ] || { echo "push_churn: $PUSH not built (make bench-bins)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/profefe-push-churn.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
echo "# push_churn: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
for bin in "${bins[@]}"; do
	rm -rf "$tmp/data"
	# -tsdb.retention: the pushed times are from 2025
	"$bin" -addr 127.0.0.1:0 -tsdb.dir "$tmp/data" -tsdb.retention 100000h >"$tmp/srv.log" 2>&1 &
	pid=$!
	port=$(bench_profefe_port "$tmp/srv.log")
	[ -n "$port" ] || { echo "push_churn: $bin did not start" >&2; cat "$tmp/srv.log" >&2; exit 1; }
	url="http://127.0.0.1:$port/api/0/profiles?service=bench&type=heap"
	t=1764000000000000000
	: >"$tmp/in"
	for i in $(seq 0 $((n - 1))); do
		printf '%s %s/heap-%03d.pb.gz %d\n' "$url" "$FIX" $((i % 10 + 1)) $((t + i * 10000000000)) >>"$tmp/in"
	done
	# one before, so that startup is not counted
	printf '%s %s/heap-010.pb.gz %d\n' "$url" "$FIX" $((t - 10000000000)) | "$PUSH" >/dev/null
	c0=$(bench_proc_cpu $pid)
	out=$("$PUSH" <"$tmp/in")
	c1=$(bench_proc_cpu $pid)
	kill -TERM $pid
	wait $pid || true
	pid=
	printf 'push_churn n=%s %s %s  server CPU %s\n' "$n" "$bin" "$out" \
		"$(awk "BEGIN{printf \"%.2f s = %.3f ms/push\", $c1 - $c0, ($c1 - $c0) * 1000 / $n}")"
done
