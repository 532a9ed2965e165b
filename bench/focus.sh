#!/usr/bin/env bash
# bench/focus.sh [PROFEFE...]: the "function over time" query of the web UI
# (GET /api/v1/query_range?query=SEL&focus=RE) over a day of one series:
# 1 440 heap profiles (the ten heap fixtures in turn, one a minute, pushed
# with tests/tools/pprof-pushday), then the server restarted so that they
# sit in blocks (the close flushes the head). For each binary given
# (default build/profefe), on the same store, one after the other: server
# CPU seconds (utime + stime of /proc/PID/stat, before and after each
# request) of
#   merge:     GET /api/v1/merge?query=SEL&report=top (the same day merged)
#   focus:     the focus query (focus=catalog\.), and its reply's md5
#   hang-up:   the focus query again with curl --max-time 0.05, then the
#              server's CPU until it is idle (0.5 s without a tick)
# Compare two builds in one run: bench/focus.sh /tmp/base/profefe build/profefe
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
[ $# -gt 0 ] || set -- "$B/profefe"
make --no-print-directory -s "$B/tests/tools/pprof-pushday" >&2
tmp=$(mktemp -d /tmp/profefe-focus.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
SEL='heap{service="day"}'
FOCUS='catalog\.'
TCK=$(getconf CLK_TCK)

start() { # BIN
	: >"$tmp/log"
	"$1" -addr 127.0.0.1:0 -tsdb.dir "$tmp/data" -tsdb.block-duration 2h 2>"$tmp/log" &
	PID=$!
	PORT=
	for _ in $(seq 1 200); do
		PORT=$(sed -n 's/.*msg="profefe started".* port=\([0-9]*\).*/\1/p' "$tmp/log" | head -1)
		[ -n "$PORT" ] && break
		sleep 0.05
	done
	URL=http://127.0.0.1:$PORT
	for _ in $(seq 1 200); do curl -fs "$URL/-/ready" >/dev/null && return 0; sleep 0.05; done
	echo "bench: profefe did not start" >&2
	cat "$tmp/log" >&2
	exit 1
}
stop() { kill -TERM "$PID"; wait "$PID" || true; PID=; }
ticks() { local st; read -r -a st <"/proc/$PID/stat"; echo $((st[13] + st[14])); }
secs() { awk -v t="$1" -v c="$TCK" 'BEGIN{printf "%.2f", t / c}'; }

start "$1"
now=$(date +%s)
t0=$(((now - 86400) / 60 * 60))
"$B/tests/tools/pprof-pushday" "$URL/api/0/profiles?service=day&type=heap" 1440 "${t0}000000000" 60000000000 2 \
	tests/fixtures/pprof/heap-0{01,02,03,04,05,06,07,08,09,10}.pb.gz | sed 's/^/# /'
stop

for bin in "$@"; do
	start "$bin"
	a=$(ticks)
	curl -sS -o /dev/null -G "$URL/api/v1/merge" --data-urlencode "query=$SEL" -d report=top
	b=$(ticks)
	curl -sS -o "$tmp/focus.json" -G "$URL/api/v1/query_range" --data-urlencode "query=$SEL" --data-urlencode "focus=$FOCUS"
	c=$(ticks)
	curl -sS -o /dev/null --max-time 0.05 -G "$URL/api/v1/query_range" --data-urlencode "query=$SEL" \
		--data-urlencode "focus=$FOCUS" 2>/dev/null || true
	last=$(ticks) idle=0
	while [ $idle -lt 10 ]; do
		sleep 0.05
		t=$(ticks)
		if [ "$t" = "$last" ]; then idle=$((idle + 1)); else idle=0; last=$t; fi
	done
	n=$(jq '[.data[].samples[]] | length' "$tmp/focus.json")
	blocks=$(curl -sS "$URL/api/v1/status/tsdb" | jq .data.blocks.count)
	printf '%s: %d profiles in %d blocks: merge %s s, focus %s s (reply md5 %s), focus with the client gone after 0.05 s %s s of server CPU\n' \
		"$bin" "$n" "$blocks" "$(secs $((b - a)))" "$(secs $((c - b)))" \
		"$(md5sum <"$tmp/focus.json" | cut -c1-12)" "$(secs $((last - c)))"
	stop
done
