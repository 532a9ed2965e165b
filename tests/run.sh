#!/usr/bin/env bash
# make test: build, then run every test (unit, end-to-end) as built and again
# under AddressSanitizer + UndefinedBehaviorSanitizer. Every test prints TAP
# ("ok N - ..." / "not ok N - ..."); this script counts them and ends with
# one line "N passed, N failed". Exits non-zero on any failure. The browser
# tests (tests/browser, headless chromium, some also in firefox-esr) run
# once, against the plain build; their screenshots land in build/screenshots/.
# The storage-level end-to-end scripts (ch_suites below) run once more, plain
# build only, on ClickHouse (PROFEFE_STORAGE=clickhouse; each script starts a
# clickhouse-server of its own; PROFEFE_TEST_SUBSET=1: the Go-oracle subset
# below), shown as "plain e2e-clickhouse NAME".
#
# Both builds come first; then the test programs of both run TEST_JOBS (5)
# at a time, longest first (most end-to-end tests wait on servers, timers
# and go tool pprof part of the time, so five keep two cores busy). Each
# test's output is shown whole, in a fixed order, with its wall time and
# the CPU it and the processes it waited for used. TEST_JOBS=1 runs them
# one after another. `make lint` runs first and counts as one test.
#
# go tool pprof is the oracle of several scripts; its output for a given
# input (a fixture, or our output with the same bytes) is computed once per
# run: the scripts share one cache (PROFEFE_PPROF_CACHE, see gopprof in
# tests/e2e/lib.bash), and each mode's plain run fills it before the
# sanitized one reads it.
#
# Under the sanitizers (which look for memory errors, not for other
# answers) a subset of the Go-oracle and crash scripts runs
# (PROFEFE_TEST_SUBSET=1): pprof_tool.sh reads every fixture back with
# -raw only (not also -traces) and the merge for 2 of its 4 sample
# indexes; codec_roundtrip.sh keeps the series in chunks of 3 and drops
# the series in one chunk of 10 (compaction and the merger still read
# chunks of 3 and 4); reports.sh compares top for each fixture's default
# sample type only and 5 of its 12 filters; crash.sh runs 5 kill -9 rounds (20 as built) and
# retention.sh's kill -9 part 3 rounds (5 as built); clickhouse_store.sh
# leaves heap-large-001 out of its round trip; test_pprof merges its
# fixture set without heap-large-001 and test_codec leaves it out of the
# flat-against-pprof encoder check and flips every third byte of a chunk
# (every byte as built). Everything else runs whole in both modes. The
# harness's tools (tests/tools: pprof-retime makes test files, pprof-info
# reads them) are the plain build's in both modes; the tools that run the
# store's own code as the thing under test (tsdb-codec, pprof-merge,
# ch-store) are each mode's.
set -uo pipefail
cd "$(dirname "$0")/.."

jobs_max=${TEST_JOBS:-5}
# a test still running after this many seconds is stopped and counts as a
# failure (a hang must not hold CI until its own limit); the longest take
# about 4 minutes under the sanitizers on the 2-core machine
test_timeout=${TEST_TIMEOUT:-900}
pass=0
fail=0
logdir=$(mktemp -d /tmp/profefe-test.XXXXXX)
trap 'rm -rf "$logdir"' EXIT
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PROFEFE_PPROF_CACHE=$logdir/pprof-cache
mkdir -p "$PROFEFE_PPROF_CACHE"

# ---- make lint -------------------------------------------------------------
if make --no-print-directory lint >"$logdir/lint" 2>&1; then
	echo "ok - make lint"
	pass=$((pass + 1))
else
	sed 's/^/#   /' "$logdir/lint"
	echo "not ok - make lint"
	fail=$((fail + 1))
fi

# ---- builds ----------------------------------------------------------------
modes=()
for mode in plain san; do
	if [ $mode = san ]; then flags=(SAN=1); else flags=(); fi
	echo "# ---- $mode build ----"
	if make --no-print-directory -j2 "${flags[@]}" all unit >"$logdir/make.$mode" 2>&1; then
		modes+=("$mode")
	else
		tail -n 50 "$logdir/make.$mode"
		echo "not ok - build ($mode)"
		fail=$((fail + 1))
	fi
done
# the example program, once, before tests that use it run side by side
if ! make --no-print-directory hotapp >"$logdir/make.hotapp" 2>&1; then
	tail -n 20 "$logdir/make.hotapp"
	echo "not ok - make hotapp"
	fail=$((fail + 1))
fi

# ---- the list: "mode kind name", longest first --------------------------
# (the e2e scripts that take longest on a 2-core machine lead; the rest
# follow in name order). Of the Go-oracle scripts (oracle) the plain runs
# come first and the sanitized runs after the other slow ones, so that Go's
# outputs they need are mostly in the cache by then.
slow=(clickhouse_store.sh scrape.sh crash.sh pprof_tool.sh reports.sh blocks.sh retention.sh
      durability.sh pprof_merge_vs_go.sh codec_roundtrip.sh api_v1.sh config.sh)
oracle=(pprof_tool.sh codec_roundtrip.sh pprof_merge_vs_go.sh blocks.sh clickhouse_store.sh
        api_v1.sh reports.sh)
list=()
later=()
# the browser tests (tests/browser/*.test.mjs, node --test), one job per
# file, first (the longest: a minute or more each): once, against the
# plain build; the sanitized server's handling of the same files is
# tests/e2e/web.sh's, and the pages' JavaScript is the same bytes in both
if [[ " ${modes[*]} " == *" plain "* ]]; then
	for t in profile pages query shell; do
		[ -f "tests/browser/$t.test.mjs" ] && list+=("plain browser tests/browser/$t.test.mjs")
	done
	for t in tests/browser/*.test.mjs; do
		[[ " ${list[*]} " == *" $t"* ]] || list+=("plain browser $t")
	done
fi
for name in "${slow[@]}"; do
	[ -f "tests/e2e/$name" ] || continue
	for mode in "${modes[@]}"; do
		if [ "$mode" = san ] && [[ " ${oracle[*]} " == *" $name "* ]]; then
			later+=("$mode e2e $name")
		else
			list+=("$mode e2e $name")
		fi
	done
done
# the storage-level suites once more on ClickHouse (PROFEFE_STORAGE=clickhouse:
# each script starts its own clickhouse-server, tests/e2e/lib.bash), plain
# build only; the embedded store's own scripts (crash, blocks, retention,
# golden, durability, codec) are not among them
ch_suites=(api0.sh api_v1.sh bad_input.sh reports.sh bundles.sh pprof_tool.sh merge_limits.sh)
if [[ " ${modes[*]} " == *" plain "* ]] && command -v /usr/sbin/clickhouse-server >/dev/null 2>&1; then
	for name in "${ch_suites[@]}"; do
		[ -f "tests/e2e/$name" ] && list+=("plain e2e-clickhouse $name")
	done
elif [[ " ${modes[*]} " == *" plain "* ]]; then
	echo "not ok - clickhouse-server is not installed (make deps): the ClickHouse suites cannot run"
	fail=$((fail + 1))
fi
list+=(${later[@]+"${later[@]}"})
# then each mode's unit tests (a few take a minute under the sanitizers)
# and the other end-to-end scripts
for mode in "${modes[@]}"; do
	build=build
	[ "$mode" = san ] && build=build-san
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] && list+=("$mode unit $(basename "$t")")
	done
	for t in tests/e2e/*.sh; do
		name=$(basename "$t")
		[[ " ${slow[*]} " == *" $name "* ]] || list+=("$mode e2e $name")
	done
done

# start I: run list[I] in the background; its output, status and time go
# to $logdir/I.{out,rc,time}
start() {
	local i=$1 mode kind name build
	read -r mode kind name <<<"${list[$i]}"
	build=build
	[ "$mode" = san ] && build=build-san
	(
		export PROFEFE_BUILD=$build PROFEFE_BIN=$PWD/$build/profefe
		# crash.sh: 20 rounds as built (the store's crash-safety figure);
		# under the sanitizers, which look for memory errors, the subset
		# named at the top
		if [ "$mode" = san ]; then
			export PROFEFE_TEST_SUBSET=1
			# the harness's own tools ($TOOLS in lib.bash: pprof-info,
			# pprof-retime, holdconns) as built, when that build is
			# there: they are instruments, not what is under test
			# (sanitized, making and reading thousands of files cost
			# more than the sanitized server did)
			[[ " ${modes[*]} " == *" plain "* ]] && export PROFEFE_TOOLS_BUILD=build
			export CRASH_ROUNDS=${CRASH_ROUNDS_SAN:-5}
			export RETENTION_CRASH_ROUNDS=${RETENTION_CRASH_ROUNDS_SAN:-3}
		fi
		t0=$SECONDS
		if [ "$kind" = unit ]; then
			CMOCKA_MESSAGE_OUTPUT=TAP timeout -k 10 "$test_timeout" "$build/tests/$name" >"$logdir/$i.out" 2>&1 </dev/null
		elif [ "$kind" = browser ]; then
			# (without the YAML of each passing test: its duration)
			timeout -k 10 "$test_timeout" node --test --test-reporter=tap "$name" 2>&1 </dev/null |
				grep -vE '^ *(---|\.\.\.|duration_ms: [0-9.]+|type: .test.)$' >"$logdir/$i.out"
		elif [ "$kind" = e2e-clickhouse ]; then
			# the Go-oracle subset (as under the sanitizers): the
			# whole oracle runs on the embedded store; here the
			# storage's answers are checked
			PROFEFE_STORAGE=clickhouse PROFEFE_TEST_SUBSET=1 timeout -k 10 "$test_timeout" \
				bash "tests/e2e/$name" >"$logdir/$i.out" 2>&1 </dev/null
		else
			timeout -k 10 "$test_timeout" bash "tests/e2e/$name" >"$logdir/$i.out" 2>&1 </dev/null
		fi
		echo "${PIPESTATUS[0]}" >"$logdir/$i.rc.tmp"
		# CPU of the test and the children it waited for (servers,
		# go tool pprof): /proc/PID/stat's cutime + cstime, in ticks
		read -r -a st <"/proc/$BASHPID/stat"
		echo "$((SECONDS - t0)) s, $(((st[15] + st[16]) / $(getconf CLK_TCK))) s CPU" >"$logdir/$i.time"
		mv "$logdir/$i.rc.tmp" "$logdir/$i.rc"
	) &
}

# report I: show list[I]'s TAP and count it. A program that exits non-zero
# without reporting a failure (a crash) counts as one failure.
report() {
	local i=$1 log="$logdir/$1.out" rc p f
	rc=$(cat "$logdir/$i.rc")
	echo "# ${list[$i]} ($(cat "$logdir/$i.time"))"
	grep -vE '^(ok|not ok) ' "$log" | sed 's/^/#   /' | tail -n 40
	# what a failure printed after its line (node's YAML: error, expected,
	# actual, stack), which the tail above may not reach
	awk '/^not ok /{p = 1; next} /^(ok|not ok) |^# Subtest/{p = 0} p' "$log" | head -n 80 | sed 's/^/#   failure: /'
	grep -E '^(ok|not ok) ' "$log"
	p=$(grep -cE '^ok ' "$log")
	f=$(grep -cE '^not ok ' "$log")
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "not ok - ${list[$i]} was stopped after ${test_timeout} s (TEST_TIMEOUT)"
		f=$((f + 1))
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - ${list[$i]} exited with status $rc"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
}

n=${#list[@]}
next=0   # next to start
shown=0  # next to report
running=0
while [ "$shown" -lt "$n" ]; do
	while [ "$next" -lt "$n" ] && [ "$running" -lt "$jobs_max" ]; do
		start "$next"
		next=$((next + 1))
		running=$((running + 1))
	done
	# reap whatever finished; report in list order
	for ((i = shown; i < next; i++)); do
		if [ -f "$logdir/$i.rc" ] && [ ! -f "$logdir/$i.reaped" ]; then
			touch "$logdir/$i.reaped"
			running=$((running - 1))
		fi
	done
	while [ "$shown" -lt "$next" ] && [ -f "$logdir/$shown.reaped" ]; do
		report "$shown"
		shown=$((shown + 1))
	done
	[ "$shown" -lt "$n" ] && sleep 0.2
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
