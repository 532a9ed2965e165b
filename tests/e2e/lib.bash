# Helpers for end-to-end tests: a real profefe on a free loopback port, TAP
# output, and checks. Source it; call finish at the end.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
FIX=$ROOT/tests/fixtures
PROFEFE_BIN=${PROFEFE_BIN:-$ROOT/build/profefe}
TMP=$(mktemp -d /tmp/profefe-e2e.XXXXXX)
export PPROF_TMPDIR=$TMP/pprof HOME=${HOME:-$TMP}
mkdir -p "$PPROF_TMPDIR"
PPROF_CACHE=${PROFEFE_PPROF_CACHE:-$TMP/pprof-cache}
mkdir -p "$PPROF_CACHE"

# jq is gojq (Debian's gojq, installed by make deps): jq 1.6 costs about
# 50 ms of CPU to start, gojq 5, and the scripts run jq thousands of times.
# gojq always prints object keys sorted (so -S, which it does not take, is
# dropped from the flags); a check of the server's own key order, or one
# that needs keys_unsorted, uses `command jq` (jq 1.6).
if command -v gojq >/dev/null 2>&1; then
	jq() {
		local a=() x
		for x in "$@"; do
			if [[ $x =~ ^-[a-zA-Z]+$ && $x == *S* ]]; then
				x=${x//S/}
				[ "$x" = - ] && continue
			fi
			a+=("$x")
		done
		gojq "${a[@]}"
	}
fi
T_N=0
T_FAILED=0
PID=
PORT=
URL=

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
notok() { T_N=$((T_N + 1)); echo "not ok $T_N - $*"; T_FAILED=1; }
# check DESC CMD...: ok when CMD succeeds
check() { local d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else notok "$d"; fi; }
# expect DESC GOT WANT
expect() {
	if [ "$2" == "$3" ]; then ok "$1"; else
		notok "$1"
		echo "#   got:  $(printf %s "$2" | head -c 600)"
		echo "#   want: $(printf %s "$3" | head -c 600)"
	fi
}
# expect_match DESC GOT REGEX
expect_match() {
	if [[ $2 =~ $3 ]]; then ok "$1"; else
		notok "$1"
		echo "#   got:  $(printf %s "$2" | head -c 600)"
		echo "#   want match: $3"
	fi
}

# The storage the servers run on: PROFEFE_STORAGE=tsdb (the embedded
# store, the default) or clickhouse. Under clickhouse, the first
# start_server starts one clickhouse-server for the script
# (tests/e2e/clickhouse.bash) and every DATADIR is a database of its own
# (named after the path: a restart on the same DATADIR finds its data, a
# new DATADIR starts empty).
STORAGE=${PROFEFE_STORAGE:-tsdb}
if [ "$STORAGE" = clickhouse ]; then
	# shellcheck source=tests/e2e/clickhouse.bash
	source "$ROOT/tests/e2e/clickhouse.bash"
	echo "# storage: clickhouse (PROFEFE_STORAGE)"
fi

# storage_flags DATADIR: sets SFLAGS to the flags that put a server on
# $STORAGE (not in a subshell: the clickhouse-server it starts is this
# shell's, stopped by finish and the EXIT trap)
SFLAGS=()
storage_flags() {
	if [ "$STORAGE" = clickhouse ]; then
		if [ -z "$CH_PID" ] && ! ch_start; then
			echo "# clickhouse-server did not start"
			return 1
		fi
		SFLAGS=(-tsdb.dir "$1" -storage-type clickhouse
			-clickhouse.dsn "http://127.0.0.1:$CH_HTTP/?database=pf_$(printf %s "$1" | md5sum | cut -c1-16)")
	else
		SFLAGS=(-tsdb.dir "$1")
	fi
}

# embedded_only REASON: under ClickHouse, a TAP skip line naming REASON
# (what the embedded store has that ClickHouse does not) and status 0;
# else status 1. Use: embedded_only "block files" || { checks...; }
embedded_only() {
	[ "$STORAGE" = clickhouse ] || return 1
	T_N=$((T_N + 1))
	echo "ok $T_N - # SKIP under ClickHouse: $*"
	return 0
}

# stored_bytes DESC GOT WANT: a stored pprof body comes back byte for byte
# from the embedded store; ClickHouse rebuilds it from its symbols, so
# there it is compared at the pprof level (same_profile, SPEC §10.2).
stored_bytes() {
	if [ "$STORAGE" = clickhouse ]; then
		check "$1 (pprof-level: ClickHouse rebuilds the body)" same_profile "$2" "$3"
	else
		check "$1" cmp "$2" "$3"
	fi
}

# start_server DATADIR [flags...]: starts profefe on 127.0.0.1:0 (the
# kernel picks a free port, no race), reads the port from its start line,
# waits for /-/ready (asked with the curl arguments of READY_CURL_ARGS, if
# set: an auth header). On $STORAGE (storage_flags).
SERVER_N=0
start_server() {
	local data=$1 log
	shift
	SERVER_N=$((SERVER_N + 1))
	log=$TMP/server.$SERVER_N.log
	: >"$log" # before the background job opens it, so the first read finds it
	storage_flags "$data" || return 1
	"$PROFEFE_BIN" -addr 127.0.0.1:0 "${SFLAGS[@]}" "$@" 2>"$log" &
	PID=$!
	PORT=
	for _ in $(seq 1 400); do
		PORT=$(sed -n 's/.*msg="profefe started".* port=\([0-9]*\).*/\1/p' "$log" | head -1)
		[ -n "$PORT" ] && break
		kill -0 $PID 2>/dev/null || break
		sleep 0.05
	done
	URL=http://127.0.0.1:$PORT
	if [ -n "$PORT" ]; then
		for _ in $(seq 1 200); do
			curl -fsS ${READY_CURL_ARGS[@]+"${READY_CURL_ARGS[@]}"} "$URL/-/ready" >/dev/null 2>&1 && return 0
			sleep 0.05
		done
	fi
	echo "# server did not start:"
	sed 's/^/#   /' "$log" | tail -20
	return 1
}

# server_cpu: adds the running server's CPU ticks so far (utime + stime of
# /proc/PID/stat) to $TMP/server.cpu; finish prints the sum, so that a
# script's CPU (tests/run.sh) splits into profefe's and the rest's
server_cpu() {
	local st
	[ -n "$PID" ] && read -r -a st <"/proc/$PID/stat" 2>/dev/null || return 0
	echo $((st[13] + st[14])) >>"$TMP/server.cpu"
}

# stop_server: SIGTERM, and checks the exit status is 0.
stop_server() {
	local rc
	[ -n "$PID" ] || return 0
	server_cpu
	kill -TERM $PID
	wait $PID
	rc=$?
	PID=
	expect "server exits 0 on SIGTERM" "$rc" 0
}

kill9_server() {
	[ -n "$PID" ] || return 0
	server_cpu
	kill -9 $PID
	wait $PID 2>/dev/null
	PID=
}

# same_profile GOT WANT: a trace (or any non-pprof body) byte for byte; a
# pprof profile at the pprof level (SPEC 10.2: sample count, time and the
# total of every sample type; tests/e2e/pprof_tool.sh checks -raw/-traces).
# TOOLS: the harness's own instruments (pprof-info, pprof-retime, holdconns);
# PROFEFE_TOOLS_BUILD picks their build (tests/run.sh: the plain one, also
# for the sanitized runs)
TOOLS=$ROOT/${PROFEFE_TOOLS_BUILD:-${PROFEFE_BUILD:-build}}/tests/tools
same_profile() {
	case $2 in
	*.pb.gz) # both must decode: two failures are not equal profiles
		local a b
		a=$("$TOOLS/pprof-info" "$1" 2>&1) || { echo "#   $a"; return 1; }
		b=$("$TOOLS/pprof-info" "$2" 2>&1) || { echo "#   $b"; return 1; }
		[ "$(cut -d' ' -f2- <<<"$a")" = "$(cut -d' ' -f2- <<<"$b")" ] ;;
	*) cmp -s "$1" "$2" ;;
	esac
}

# req METHOD PATH [curl args...]: prints "STATUS BODY"
req() {
	local m=$1 p=$2
	shift 2
	curl -sS -o "$TMP/body" -w '%{http_code}' -X "$m" "$@" "$URL$p" >"$TMP/code" 2>/dev/null
	printf '%s %s' "$(cat "$TMP/code")" "$(cat "$TMP/body")"
}

# metric NAME: its value in the server's /metrics (empty when unreachable)
metric() { curl -sS -m 5 "$URL/metrics" 2>/dev/null | awk -v n="$1" '$1 == n {print $2}'; }

# wait_metric NAME OP VALUE [POLLS]: poll /metrics every 0.1 s until NAME
# compares to VALUE (test's -eq, -ge, -gt, ...), at most POLLS times (300:
# 30 s); gives up and says so. A bounded wait, not a timing check.
wait_metric() {
	local v
	for _ in $(seq 1 "${4:-300}"); do
		v=$(metric "$1")
		[ -n "$v" ] && [ "$(printf %.0f "$v")" "$2" "$3" ] && return 0
		sleep 0.1
	done
	echo "#   $1 = ${v:-?}, waited for $2 $3"
	return 1
}

# sigstop PID: SIGSTOP, then wait until every thread of PID is stopped. A
# group stop begins when one thread takes the signal; until then the other
# threads run on (for milliseconds on a loaded machine: a server "paused"
# so may still answer what comes next). Gives up after 5 s and says so.
sigstop() {
	local t st running
	kill -STOP "$1" || return 1
	for _ in $(seq 1 500); do
		running=0
		for t in /proc/"$1"/task/*/stat; do
			read -r st <"$t" 2>/dev/null || continue
			st=${st##*) }
			[ "${st%% *}" = T ] || running=$((running + 1))
		done
		[ "$running" -eq 0 ] && return 0
		sleep 0.01
	done
	echo "# sigstop $1: $running threads still running 5 s after SIGSTOP"
	return 1
}

# push FILE QUERY: POST a body, prints the JSON reply.
push() {
	curl -sS --data-binary @"$1" "$URL/api/0/profiles?$2"
}

# push_list [CURL-OPTION...]: reads "FILE QUERY" lines on stdin and POSTs
# each body to /api/0/profiles?QUERY, in order, with one curl process (one
# kept-alive connection: a curl process per push costs more CPU than the
# server spends on it); prints "STATUS ID FILE" for each push as its reply
# arrives (ID "-" when the reply has none; STATUS 000 when there was no
# reply). Each CURL-OPTION (a config line, e.g. "max-time = 10") applies
# to every push.
push_list() {
	local cfg=$TMP/push_list.$BASHPID f q o files=() body= line i=0 id
	: >"$cfg"
	while read -r f q; do
		[ ${#files[@]} -gt 0 ] && echo next >>"$cfg"
		files+=("$f")
		printf 'url = "%s/api/0/profiles?%s"\ndata-binary = "@%s"\nwrite-out = "\\n%%{http_code}\\n"\n' \
			"$URL" "$q" "$f" >>"$cfg"
		for o in "$@"; do echo "$o" >>"$cfg"; done
	done
	[ ${#files[@]} -gt 0 ] || return 0
	while IFS= read -r line; do
		if [[ $line =~ ^[0-9]{3}$ ]]; then
			id=-
			[[ $body =~ \"id\":\"([A-Za-z0-9]+)\" ]] && id=${BASH_REMATCH[1]}
			echo "$line $id ${files[i]}"
			i=$((i + 1))
			body=
		elif [ -n "$line" ]; then
			body=$line
		fi
	done < <(curl -sS --no-buffer -K "$cfg" 2>/dev/null)
	rm -f "$cfg"
}

# pprof_key ARGS...: a cache key for go tool pprof ARGS: each argument that
# names a file stands for its contents (Go prints no input path on stdout),
# so equal bytes at another path (the sanitized build's output) hit too.
pprof_key() {
	local a
	for a in "$@"; do
		if [ -f "$a" ]; then md5sum <"$a"; else printf '%s\n' "$a"; fi
	done | md5sum | cut -d' ' -f1
}

# gopprof OUT ARGS...: `go tool pprof ARGS` into the file OUT; status 0
# only when Go exited 0 and printed rows (-raw: a sample line under
# "Samples:", -traces: a sample separator, -top: a row under the header,
# anything else: some output); otherwise Go's stderr is shown as "#" lines
# (on stderr) and the status is 1, so that a comparison can tell two
# failures from two equal profiles: check both sides.
# Outputs of local files only (no URL among ARGS) are cached by ARGS, the
# files by their contents (pprof_key), under PROFEFE_PPROF_CACHE (tests/run.sh
# shares one per make test run) or else this test's TMP: a fixture is read
# by Go once.
gopprof() {
	local out=$1 key a rc=0
	shift
	if [ -n "${PPROF_CACHE:-}" ] && [[ " $* " != *"://"* ]]; then
		key=$(pprof_key "$@")
		if [ -s "$PPROF_CACHE/$key" ]; then
			cp "$PPROF_CACHE/$key" "$out"
			return 0
		fi
	fi
	go tool pprof "$@" >"$out" 2>"$TMP/gopprof.err" || rc=$?
	if [ "$rc" -eq 0 ]; then
		case " $* " in
		*" -raw "*) awk '/^Locations/ { exit } f && /: / { r = 1; exit } /^Samples:/ { f = 1 } END { exit !r }' "$out" || rc=no_rows ;;
		*" -traces "*) grep -qE '^-+\+-+$' "$out" || rc=no_rows ;;
		*" -top "*) awk 'f { r = 1; exit } /^ *flat +flat%/ { f = 1 } END { exit !r }' "$out" || rc=no_rows ;;
		*) [ -s "$out" ] || rc=no_rows ;;
		esac
	fi
	if [ "$rc" != 0 ]; then
		{
			echo "# go tool pprof $* failed ($([ "$rc" = no_rows ] && echo "no rows printed" || echo "exit $rc")):"
			sed 's/^/#   /' "$TMP/gopprof.err" | tail -n 10
		} >&2
		return 1
	fi
	if [ -n "${key:-}" ]; then
		cp "$out" "$PPROF_CACHE/$key.$$" && mv -f "$PPROF_CACHE/$key.$$" "$PPROF_CACHE/$key"
	fi
	return 0
}

# expect_pprof DESC FILTER GOT-ARGS... -- WANT-ARGS...: go tool pprof of
# both (each must succeed and print rows: gopprof), equal after FILTER (a
# command reading stdin, e.g. a function; "cat" for none), which must leave
# something to compare.
expect_pprof() {
	local d=$1 filter=$2 got=() want=()
	shift 2
	while [ "$1" != -- ]; do got+=("$1"); shift; done
	shift
	want=("$@")
	if ! gopprof "$TMP/pp.got" "${got[@]}"; then notok "$d (go tool pprof of ours failed)"; return; fi
	if ! gopprof "$TMP/pp.want" "${want[@]}"; then notok "$d (go tool pprof of the oracle failed)"; return; fi
	if [ -z "$($filter <"$TMP/pp.want")" ]; then notok "$d (nothing left to compare)"; return; fi
	expect "$d" "$($filter <"$TMP/pp.got" | md5sum)" "$($filter <"$TMP/pp.want" | md5sum)"
}

finish() {
	[ -n "$PID" ] && stop_server
	if cat "$TMP"/server.*.log 2>/dev/null | grep -qE 'AddressSanitizer|runtime error:|LeakSanitizer'; then
		notok "server logs have no sanitizer reports"
		cat "$TMP"/server.*.log | grep -E -A20 'AddressSanitizer|runtime error:|LeakSanitizer' | head -40 | sed 's/^/#   /'
	fi
	[ -f "$TMP/server.cpu" ] &&
		echo "# profefe servers' CPU: $(awk -v hz="$(getconf CLK_TCK)" '{ s += $1 } END { printf "%.1f s over %d starts", s / hz, NR }' "$TMP/server.cpu")"
	[ "$STORAGE" = clickhouse ] && ch_stop
	rm -rf "$TMP"
	exit $T_FAILED
}
if [ "$STORAGE" = clickhouse ]; then
	trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; ch_stop' EXIT
else
	trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null' EXIT
fi
