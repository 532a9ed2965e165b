#!/bin/sh
# Compare profefe's pprof merge with Go's own (go tool pprof).
#
# For each case, tests/tools/pprof-merge merges the inputs into one file;
# then, for every sample index, `go tool pprof -top` of that file must print
# exactly what `go tool pprof -top` of the input files prints (rows, totals,
# File/Type/Time/Duration header). In addition `go tool pprof -raw` of our
# file must equal -raw of Go's `go tool pprof -proto` of the same inputs
# (same samples, locations, mappings, in the same order).
#
# Usage: tests/e2e/pprof_merge_vs_go.sh [BUILD_DIR]   (default: $PROFEFE_BUILD, else build)
# Run from the repository root. Prints TAP; exits 1 if any check failed.
set -u

BUILD=${1:-${PROFEFE_BUILD:-build}}
TOOL=$BUILD/tests/tools/pprof-merge
F=tests/fixtures/pprof

if [ ! -x "$TOOL" ]; then
	echo "Bail out! $TOOL not built (make BUILD=$BUILD $TOOL)"
	exit 1
fi
if ! command -v go >/dev/null 2>&1; then
	echo "not ok 1 - go is installed (make deps installs golang-go)"
	exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -n "${2:-}" ] && sed 's/^/# /' "$2" | head -40
}

# pprof's -top, every node (no dropping), one sample index
top() {
	idx=$1
	shift
	go tool pprof -top -nodecount=100000 -nodefraction=0 -edgefraction=0 \
		-sample_index="$idx" "$@" 2>&1
}

# number of sample types of a profile (the line after "Samples:" in -raw)
ntypes() {
	go tool pprof -raw "$1" 2>/dev/null | awk 'f { print NF; exit } /^Samples:/ { f = 1 }'
}

check_case() {
	name=$1
	shift
	out=$TMP/ours.pb.gz
	if ! "$TOOL" "$@" >"$out" 2>"$TMP/err"; then
		notok "$name: pprof-merge failed" "$TMP/err"
		return
	fi
	ok "$name: pprof-merge ran"
	nt=$(ntypes "$out")
	if [ -z "$nt" ] || [ "$nt" -lt 1 ]; then
		notok "$name: go tool pprof cannot read our output"
		return
	fi
	i=0
	while [ "$i" -lt "$nt" ]; do
		top "$i" "$out" >"$TMP/ours.top"
		top "$i" "$@" >"$TMP/go.top"
		if diff "$TMP/go.top" "$TMP/ours.top" >"$TMP/diff"; then
			rows=$(grep -c '%' "$TMP/ours.top")
			total=$(grep -m1 '^Showing' "$TMP/ours.top" | sed 's/.* of //')
			ok "$name: -top -sample_index=$i identical ($rows rows, $total)"
		else
			notok "$name: -top -sample_index=$i differs" "$TMP/diff"
		fi
		i=$((i + 1))
	done
	go tool pprof -proto "$@" >"$TMP/go.pb.gz" 2>"$TMP/err"
	go tool pprof -raw "$TMP/go.pb.gz" >"$TMP/go.raw" 2>&1
	go tool pprof -raw "$out" >"$TMP/ours.raw" 2>&1
	if diff "$TMP/go.raw" "$TMP/ours.raw" >"$TMP/diff"; then
		ok "$name: -raw identical to go tool pprof -proto ($(wc -c <"$out") vs $(wc -c <"$TMP/go.pb.gz") bytes)"
	else
		notok "$name: -raw differs from go tool pprof -proto" "$TMP/diff"
	fi
}

check_case "10 heap files" $F/heap-001.pb.gz $F/heap-002.pb.gz $F/heap-003.pb.gz \
	$F/heap-004.pb.gz $F/heap-005.pb.gz $F/heap-006.pb.gz $F/heap-007.pb.gz \
	$F/heap-008.pb.gz $F/heap-009.pb.gz $F/heap-010.pb.gz
check_case "5 cpu files" $F/cpu-001.pb.gz $F/cpu-002.pb.gz $F/cpu-003.pb.gz \
	$F/cpu-004.pb.gz $F/cpu-005.pb.gz
check_case "heap-large-001 alone" $F/heap-large-001.pb.gz
for f in block-001 mutex-001 goroutine-001 threadcreate-001 allocs-001 allocs-delta-001 cpu-003; do
	check_case "$f alone" $F/$f.pb.gz
done
check_case "heap + allocs + allocs-delta" $F/heap-010.pb.gz $F/allocs-001.pb.gz $F/allocs-delta-001.pb.gz
check_case "block + mutex" $F/block-001.pb.gz $F/mutex-001.pb.gz
check_case "heap-001 twice" $F/heap-001.pb.gz $F/heap-001.pb.gz

# inputs Go refuses to merge are refused too
if "$TOOL" $F/heap-001.pb.gz $F/cpu-001.pb.gz >/dev/null 2>"$TMP/err"; then
	notok "heap + cpu: merged, but go tool pprof refuses"
elif grep -q 'sample types differ' "$TMP/err"; then
	ok "heap + cpu: refused ($(cat "$TMP/err"))"
else
	notok "heap + cpu: wrong error" "$TMP/err"
fi

echo "1..$n"
[ "$failed" -eq 0 ] || exit 1
exit 0
