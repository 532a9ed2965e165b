#!/usr/bin/env bash
# The store's symbolized codec (src/tsdb/codec/codec.h), checked with real
# `go tool pprof` as the judge (SPEC 10.2: equal at the pprof level).
#
#   - every fixture alone (a chunk of one, through a serialized symbol table
#     and chunk): -raw and -traces equal the original's, and -top (every
#     row and the total) equal for every sample index; heap-large-001
#     (78 642 samples, about 3 s of Go's CPU per table) -raw only, which
#     prints every sample, location, function and mapping;
#   - the execution trace comes back byte for byte;
#   - the ten heap snapshots as one series in one chunk, and in chunks of 3,
#     and those chunks transcoded into one chunk of a new table (compaction):
#     each profile equal to its original;
#   - tsdb__merger over the ten snapshots (chunks of 4) gives Go's own merge
#     of the ten files and pprof_merge's: same -top for every sample index;
#   - the size of the ten snapshots as one series is at most 0.10 of their
#     gzip bytes.
# Only lines naming the source file (File, Build ID, ...) are normalized, as
# pprof_tool.sh does; ids come out numbered as Go's writer numbers them, so
# -raw needs no other normalization.
source "$(dirname "$0")/lib.bash"

BUILD=${PROFEFE_BUILD:-build}
TOOL=$ROOT/$BUILD/tests/tools/tsdb-codec
MERGE=$ROOT/$BUILD/tests/tools/pprof-merge
P=$FIX/pprof
if [ ! -x "$TOOL" ] || [ ! -x "$MERGE" ]; then
	notok "$TOOL and $MERGE are built (make unit)"
	finish
fi
if ! command -v go >/dev/null 2>&1; then
	notok "go is installed (make deps installs golang-go)"
	finish
fi

norm() { grep -vE '^(\(pprof\) )?(File|Build ID|Main binary filename|Showing nodes accounting|Dropped|Saved profile in|Fetching profile)'; }

# judge [-top | -raw] N FILE...: one go tool pprof session printing raw,
# traces (raw alone with -raw, neither with -top) and, for each of the N
# sample indexes, top with every row and the total line. Go must exit 0 and
# print top's rows for every index and raw's samples, else the output is
# "go tool pprof failed" and Go's errors (on stderr). Cached like gopprof
# (lib.bash): by the arguments, files by their contents.
judge() {
	local n i what=all key rc=0
	case $1 in -top | -raw) what=${1#-}; shift ;; esac
	n=$1
	shift
	key=judge-$(pprof_key "$what" "$n" "$@")
	if [ -s "$PPROF_CACHE/$key" ]; then
		cat "$PPROF_CACHE/$key"
		return
	fi
	{
		echo nodecount=1000000
		echo nodefraction=0
		echo edgefraction=0
		[ "$what" = top ] || echo raw
		[ "$what" = all ] && echo traces
		for ((i = 0; i < n; i++)); do
			echo sample_index=$i
			echo top
		done
	} | go tool pprof "$@" >"$TMP/judge.out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] || [ "$(grep -cE '^ *flat +flat%' "$TMP/judge.out")" -ne "$n" ] ||
		{ [ "$what" != top ] && ! grep -qE '^Samples:' "$TMP/judge.out"; }; then
		echo "go tool pprof failed"
		{ echo "# go tool pprof $* failed (exit $rc, or not $n tables of rows):"; tail -n 5 "$TMP/judge.out" | sed 's/^/#   /'; } >&2
		return
	fi
	grep -vE '^(\(pprof\) )?(File|Build ID|Main binary filename|Dropped|Saved profile in|Fetching profile)' "$TMP/judge.out" >"$PPROF_CACHE/$key.$$"
	mv -f "$PPROF_CACHE/$key.$$" "$PPROF_CACHE/$key"
	cat "$PPROF_CACHE/$key"
}

# same_profile NAME WANT GOT [raw]: -raw, -traces and -top (rows and total,
# every sample index) equal, or with "raw" -raw alone; on a difference,
# shows where.
same_profile() {
	local name=$1 want=$2 got=$3 n what
	if [ "${4:-}" = raw ]; then
		n=0
		what="raw"
		set -- -raw
	else
		n=$("$TOOL" ntypes "$want")
		what="raw, traces and top of all $n sample indexes"
		set --
	fi
	judge "$@" "$n" "$want" >"$TMP/want.judge"
	judge "$@" "$n" "$got" >"$TMP/got.judge"
	if grep -q '^go tool pprof failed$' "$TMP/want.judge" "$TMP/got.judge"; then
		notok "$name: go tool pprof reads both (see above)"
	elif cmp -s "$TMP/want.judge" "$TMP/got.judge"; then
		ok "$name: go tool pprof $what equal"
	else
		notok "$name: go tool pprof $what equal"
		diff "$TMP/want.judge" "$TMP/got.judge" | head -10 | sed 's/^/#   /'
	fi
}

for f in "$P"/*.pb.gz; do
	name=$(basename "$f" .pb.gz)
	out=$TMP/$name.pb.gz
	if ! "$TOOL" roundtrip "$f" "$out" 2>"$TMP/err"; then
		notok "$name: round trip"
		sed 's/^/#   /' "$TMP/err"
		continue
	fi
	if [ "$name" = heap-large-001 ]; then same_profile "$name" "$f" "$out" raw; else same_profile "$name" "$f" "$out"; fi
done

# a trace is a raw body
if "$TOOL" roundtrip "$P/trace-001.out" "$TMP/trace.out" 2>"$TMP/err"; then
	check "trace-001.out comes back byte for byte" cmp "$P/trace-001.out" "$TMP/trace.out"
else
	notok "trace-001.out round trip"
	sed 's/^/#   /' "$TMP/err"
fi

# the ten heap snapshots as one series
heap=("$P"/heap-0[01]?.pb.gz)
# (under the sanitizers, PROFEFE_TEST_SUBSET: chunks of 3 only)
pers=(10 3)
[ -n "${PROFEFE_TEST_SUBSET:-}" ] && pers=(3)
for per in "${pers[@]}"; do
	mkdir -p "$TMP/series$per"
	if ! "$TOOL" -c $per series "$TMP/series$per" "${heap[@]}" 2>"$TMP/err"; then
		notok "series in chunks of $per"
		sed 's/^/#   /' "$TMP/err"
		continue
	fi
	for f in "${heap[@]}"; do
		same_profile "series (chunks of $per) $(basename "$f" .pb.gz)" "$f" "$TMP/series$per/$(basename "$f")"
	done
done

# compaction: chunks of 3 transcoded into one chunk of a new table
mkdir -p "$TMP/compact"
if "$TOOL" -c 3 compact "$TMP/compact" "${heap[@]}" 2>"$TMP/err"; then
	for f in "${heap[@]}"; do
		same_profile "compacted $(basename "$f" .pb.gz)" "$f" "$TMP/compact/$(basename "$f")"
	done
else
	notok "compaction of the ten heap snapshots"
	sed 's/^/#   /' "$TMP/err"
fi

# merging by stack id equals Go's merge and pprof_merge
if "$TOOL" -c 4 merge "$TMP/merged.pb.gz" "${heap[@]}" 2>"$TMP/err" &&
	"$MERGE" "${heap[@]}" >"$TMP/pprof-merge.pb.gz" 2>>"$TMP/err"; then
	n=$("$TOOL" ntypes "${heap[0]}")
	tops() { judge -top "$n" "$@" | md5sum; }
	want=$(tops "${heap[@]}")
	failed=$(echo "go tool pprof failed" | md5sum)
	if [ "$want" = "$failed" ]; then
		notok "go tool pprof merges the ten heap snapshots (see above)"
	else
		expect "merger of the ten heap snapshots: top of all $n sample indexes equals Go's merge" \
			"$(tops "$TMP/merged.pb.gz")" "$want"
		expect "pprof_merge of the ten heap snapshots: the same" \
			"$(tops "$TMP/pprof-merge.pb.gz")" "$want"
	fi
else
	notok "merge of the ten heap snapshots"
	sed 's/^/#   /' "$TMP/err"
fi

# the size goal
r=$("$TOOL" ratio "${heap[@]}")
echo "# ten heap snapshots as one series: $r"
ratio=$(sed 's/.*ratio //' <<<"$r")
check "ten heap snapshots as one series take at most 0.10 of their gzip bytes ($ratio)" \
	awk -v r="$ratio" 'BEGIN { exit !(r <= 0.10) }'

finish
