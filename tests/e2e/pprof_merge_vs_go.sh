#!/usr/bin/env bash
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
# Prints TAP; exits 1 if any check failed. Go must succeed and print rows
# for both sides of every comparison (gopprof, lib.bash).
source "$(dirname "$0")/lib.bash"

BUILD=${1:-${PROFEFE_BUILD:-build}}
TOOL=$BUILD/tests/tools/pprof-merge
F=tests/fixtures/pprof

if [ ! -x "$TOOL" ]; then
	notok "$TOOL is built (make BUILD=$BUILD unit)"
	finish
fi
if ! command -v go >/dev/null 2>&1; then
	notok "go is installed (make deps installs golang-go)"
	finish
fi

# notok_diff DESC FILE: a failure, with FILE's first lines
notok_diff() {
	notok "$1"
	sed 's/^/# /' "$2" | head -40
}

# top OUT IDX FILE...: pprof's -top into OUT, every node (no dropping), one
# sample index; fails unless Go succeeded and printed rows (gopprof)
top() {
	local out=$1 idx=$2
	shift 2
	gopprof "$out" -top -nodecount=100000 -nodefraction=0 -edgefraction=0 -sample_index="$idx" "$@"
}

# number of sample types of a profile (the line after "Samples:" in -raw)
ntypes() {
	gopprof "$TMP/ntypes.raw" -raw "$1" && awk 'f { print NF; exit } /^Samples:/ { f = 1 }' "$TMP/ntypes.raw"
}

# check_case NAME FILE...: as above, every sample index; for a case named
# "... (index 0)" the first only (heap-large-001: each -top of it costs Go
# about 3 s of CPU; -raw still compares every value of every sample)
check_case() {
	local name=$1 out=$TMP/ours.pb.gz nt i rows total
	shift
	if ! "$TOOL" "$@" >"$out" 2>"$TMP/err"; then
		notok_diff "$name: pprof-merge failed" "$TMP/err"
		return
	fi
	ok "$name: pprof-merge ran"
	nt=$(ntypes "$out")
	if [ -z "$nt" ] || [ "$nt" -lt 1 ]; then
		notok "$name: go tool pprof cannot read our output"
		return
	fi
	[[ $name == *"(index 0)" ]] && nt=1
	i=0
	while [ "$i" -lt "$nt" ]; do
		if ! top "$TMP/ours.top" "$i" "$out"; then
			notok "$name: -top -sample_index=$i: go tool pprof of ours failed"
		elif ! top "$TMP/go.top" "$i" "$@"; then
			notok "$name: -top -sample_index=$i: go tool pprof of the inputs failed"
		elif diff "$TMP/go.top" "$TMP/ours.top" >"$TMP/diff"; then
			rows=$(grep -c '%' "$TMP/ours.top")
			total=$(grep -m1 '^Showing' "$TMP/ours.top" | sed 's/.* of //')
			ok "$name: -top -sample_index=$i identical ($rows rows, $total)"
		else
			notok_diff "$name: -top -sample_index=$i differs" "$TMP/diff"
		fi
		i=$((i + 1))
	done
	if ! gopprof "$TMP/go.pb.gz" -proto "$@" || ! gopprof "$TMP/go.raw" -raw "$TMP/go.pb.gz"; then
		notok "$name: go tool pprof -proto, then -raw, of the inputs failed"
	elif ! gopprof "$TMP/ours.raw" -raw "$out"; then
		notok "$name: go tool pprof -raw of ours failed"
	elif diff "$TMP/go.raw" "$TMP/ours.raw" >"$TMP/diff"; then
		ok "$name: -raw identical to go tool pprof -proto ($(wc -c <"$out") vs $(wc -c <"$TMP/go.pb.gz") bytes)"
	else
		notok_diff "$name: -raw differs from go tool pprof -proto" "$TMP/diff"
	fi
}

check_case "10 heap files" $F/heap-001.pb.gz $F/heap-002.pb.gz $F/heap-003.pb.gz \
	$F/heap-004.pb.gz $F/heap-005.pb.gz $F/heap-006.pb.gz $F/heap-007.pb.gz \
	$F/heap-008.pb.gz $F/heap-009.pb.gz $F/heap-010.pb.gz
check_case "5 cpu files" $F/cpu-001.pb.gz $F/cpu-002.pb.gz $F/cpu-003.pb.gz \
	$F/cpu-004.pb.gz $F/cpu-005.pb.gz
check_case "heap-large-001 alone (index 0)" $F/heap-large-001.pb.gz
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
	notok_diff "heap + cpu: wrong error" "$TMP/err"
fi

finish
