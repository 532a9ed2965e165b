#!/usr/bin/env bash
# make run: profefe on :10100 with ./data, and the demo beside it: the
# example Go program build/hotapp serving net/http/pprof on 127.0.0.1:6060,
# which profefe scrapes as examples/profefe.yaml says (every 10 s).
#
#   make run                         the demo
#   HOTAPP=0 make run                profefe alone (push only)
#   HOTAPP=0 CONFIG=my.yaml make run profefe scraping what my.yaml lists
#
# ADDR (default :10100), DATA (./data) and BUILD (build) change the rest.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
HOTAPP=${HOTAPP:-1}
ADDR=${ADDR:-:10100}
DATA=${DATA:-./data}
CONFIG=${CONFIG:-}
args=(-addr "$ADDR" -tsdb.dir "$DATA")
hot=

stop_hotapp() { [ -n "$hot" ] && kill "$hot" 2>/dev/null && wait "$hot" 2>/dev/null; return 0; }
trap stop_hotapp EXIT

if [ "$HOTAPP" != 0 ]; then
	[ -n "$CONFIG" ] || CONFIG=examples/profefe.yaml
	log=$(mktemp /tmp/profefe-hotapp.XXXXXX)
	"$B/hotapp" -addr 127.0.0.1:6060 2>"$log" &
	hot=$!
	for _ in $(seq 1 100); do
		grep -q 'serving pprof' "$log" && break
		if ! kill -0 "$hot" 2>/dev/null; then
			echo "run: the demo program did not start: $(tail -1 "$log")" >&2
			echo "run: free 127.0.0.1:6060, or run profefe alone with HOTAPP=0 make run" >&2
			rm -f "$log"
			hot=
			exit 1
		fi
		sleep 0.05
	done
	rm -f "$log"
	port=${ADDR##*:}
	cat >&2 <<MSG
run: build/hotapp serves net/http/pprof on 127.0.0.1:6060 (pid $hot); profefe scrapes it
run: every 10s as $CONFIG says. In another terminal:
run:   curl -s localhost:$port/api/v1/targets | jq -r '.data.activeTargets[] | "\(.labels.type) \(.health) \(.lastError)"'
run:   curl -sG localhost:$port/api/v1/series --data-urlencode 'match[]={service="hotapp"}' | jq -c '.data[]'
run:   go tool pprof -top "http://localhost:$port/api/0/profiles/merge?service=hotapp&type=cpu&from=2000-01-01T00:00:00&to=2100-01-01T00:00:00"
MSG
fi
[ -n "$CONFIG" ] && args+=(-config.file "$CONFIG")
mkdir -p "$DATA"
# profefe in the foreground; Ctrl-C reaches it (and the demo) directly
"$B/profefe" "${args[@]}" || rc=$?
exit "${rc:-0}"
