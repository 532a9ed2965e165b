#!/usr/bin/env bash
# make test: build, then run every test (unit, end-to-end) as built and again
# under AddressSanitizer + UndefinedBehaviorSanitizer. Every test prints TAP
# ("ok N - ..." / "not ok N - ..."); this script counts them and ends with
# one line "N passed, N failed". Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

pass=0
fail=0
logdir=$(mktemp -d /tmp/profefe-test.XXXXXX)
trap 'rm -rf "$logdir"' EXIT

# run NAME CMD...: run one test program, show its TAP, count it. A program
# that exits non-zero without reporting a failure (a crash) counts as one.
run() {
	local name=$1 log="$logdir/out" rc p f t0=$SECONDS
	shift
	echo "# $name"
	"$@" >"$log" 2>&1
	rc=$?
	echo "# $name took $((SECONDS - t0)) s"
	grep -vE '^(ok|not ok) ' "$log" | sed 's/^/#   /' | tail -n 40
	grep -E '^(ok|not ok) ' "$log"
	p=$(grep -cE '^ok ' "$log")
	f=$(grep -cE '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
}

for mode in plain san; do
	if [ $mode = san ]; then
		flags=(SAN=1)
		build=build-san
		export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	else
		flags=()
		build=build
	fi
	echo "# ---- $mode build ($build) ----"
	if ! make --no-print-directory -j2 "${flags[@]}" all unit >"$logdir/make" 2>&1; then
		tail -n 50 "$logdir/make"
		echo "not ok - build ($mode)"
		fail=$((fail + 1))
		continue
	fi
	export PROFEFE_BUILD=$build PROFEFE_BIN=$PWD/$build/profefe
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		CMOCKA_MESSAGE_OUTPUT=TAP run "$mode unit $(basename "$t")" "$t"
	done
	for t in tests/e2e/*.sh; do
		[ -f "$t" ] || continue
		run "$mode e2e $(basename "$t")" bash "$t"
	done
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
