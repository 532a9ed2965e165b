#!/usr/bin/env bash
# Peak memory of a merge of 1 000 heap profiles (issue 15): the ten heap
# fixtures x100 pushed to a profefe (one series; they stay in the head),
# merged by GET /api/0/profiles/merge from the head, then again after a
# clean restart (everything in blocks); against `go tool pprof -proto` of
# the same 1 000 files and tests/tools/pprof-merge (decode, fold, free).
# For the server: its peak RSS is reset (clear_refs 5) right before the
# merge, and the figure is VmHWM after it minus VmRSS before it (the growth),
# with VmHWM itself; the CPU time of the merge is the server's utime+stime
# across the request. For the tools: /usr/bin/time's max RSS.
# PROFEFE_BIN_BASE=<an older build/profefe> measures it too (before/after).
# Needs B, FIX, tmp, start() from run.sh (or runs alone: bench/merge_rss.sh).
set -euo pipefail
if [ -z "${B:-}" ]; then
	cd "$(dirname "$0")/.."
	B=${BUILD:-build}
	FIX=tests/fixtures/pprof
	tmp=$(mktemp -d /tmp/profefe-bench.XXXXXX)
	pids=()
	trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
	start() {
		local log=$tmp/srv.$RANDOM
		"$@" >"$log" 2>&1 &
		SRV_PID=$!
		pids+=($SRV_PID)
		SRV_PORT=
		for _ in $(seq 1 400); do
			SRV_PORT=$(grep -oE 'port[= ][0-9]+' "$log" | head -1 | grep -oE '[0-9]+$' || true)
			[ -n "$SRV_PORT" ] && return 0
			sleep 0.05
		done
		echo "bench: server did not start: $*" >&2
		return 1
	}
fi
GOPPROF="$(go env GOTOOLDIR)/pprof"
heap10=("$FIX"/heap-0[01]?.pb.gz)
files=()
for ((i = 0; i < 1000; i++)); do files+=("${heap10[i % 10]}"); done
T="from=2026-11-01T00:00:00&to=2026-12-01T00:00:00"

kb() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$2/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# merge_mem LABEL: one merge of the 1 000 against the running server
merge_mem() {
	local before hwm c0 c1 t
	echo 5 >"/proc/$SRV_PID/clear_refs" # VmHWM := VmRSS
	before=$(kb VmRSS $SRV_PID)
	c0=$(cpu_ticks $SRV_PID)
	t=$(curl -sS -o "$tmp/merged.pb.gz" -w '%{time_total}' "http://127.0.0.1:$SRV_PORT/api/0/profiles/merge?service=rss&type=heap&$T")
	c1=$(cpu_ticks $SRV_PID)
	hwm=$(kb VmHWM $SRV_PID)
	printf 'merge 1000 heap, %-28s RSS before %6.1f MB, peak %6.1f MB, growth %6.1f MB | %.2fs wall, %.2fs CPU | %d bytes\n' \
		"$1" "$(awk "BEGIN{print $before/1024}")" "$(awk "BEGIN{print $hwm/1024}")" \
		"$(awk "BEGIN{print ($hwm-$before)/1024}")" "$t" "$(awk "BEGIN{print ($c1-$c0)/$(getconf CLK_TCK)}")" \
		"$(stat -c %s "$tmp/merged.pb.gz")"
}
server_case() {
	local name=$1 bin=$2 data=$tmp/data-rss-$1
	start "$bin" -addr 127.0.0.1:0 -tsdb.dir "$data"
	printf '%s\n' "${files[@]}" | xargs -P 4 -I{} curl -sS -o /dev/null --data-binary @{} \
		"http://127.0.0.1:$SRV_PORT/api/0/profiles?service=rss&type=heap"
	merge_mem "$name, from the head:"
	kill -TERM $SRV_PID
	wait $SRV_PID || true
	start "$bin" -addr 127.0.0.1:0 -tsdb.dir "$data"
	merge_mem "$name, from blocks:"
	kill -TERM $SRV_PID
	wait $SRV_PID || true
	rm -rf "$data"
}
server_case profefe "$B/profefe"
if [ -n "${PROFEFE_BIN_BASE:-}" ]; then
	server_case base "$PROFEFE_BIN_BASE"
fi
/usr/bin/time -f '%e %M' -o "$tmp/time" "$B/tests/tools/pprof-merge" "${files[@]}" >"$tmp/tool.pb.gz"
read -r tt tm <"$tmp/time"
/usr/bin/time -f '%e %M' -o "$tmp/time" "$GOPPROF" -proto "${files[@]}" >"$tmp/go.pb.gz" 2>/dev/null
read -r gt gm <"$tmp/time"
printf 'merge 1000 heap, tests/tools/pprof-merge: %.2fs, max RSS %6.1f MB | go tool pprof -proto: %.2fs, max RSS %6.1f MB\n' \
	"$tt" "$(awk "BEGIN{print $tm/1024}")" "$gt" "$(awk "BEGIN{print $gm/1024}")"
