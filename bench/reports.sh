#!/usr/bin/env bash
# Reports over the corpus (issue 15), called by bench/run.sh (alone:
# BENCH_ONLY=reports bench/run.sh). The corpus is bench/corpus.sh's: three
# instances of examples/hotapp with a drifting request mix, a heap profile
# of each every second for 12 minutes (2 160 files, built once, ~12 min).
#  1. A fresh profefe gets the 2 160 files as three interleaved series
#     (service=corpus, instance=a|b|c), in the order they were taken, each
#     keeping its own time_nanos; a clean restart puts them in blocks
#     (checked: the head is empty, the blocks hold them all).
#  2. Best wall time of 3 (and the server's CPU seconds, the least of the 3,
#     from its threads' schedstat)
#     of the merge of all of it and of one instance, against
#     `go tool pprof -proto FILES` on the same files (BENCH_GO_RUNS, default
#     3, runs; wall, CPU = user + sys, peak RSS). Ratios: Go's time over ours
#     (goal >= 50x) and our cost per profile all / one (goal <= 2x). The
#     alloc_space total of ours must equal Go's (`-top -unit=B`).
#  3. A day of one series: instance a's files repeated, 10 s apart, 8 640
#     profiles with rewritten time_nanos (bench/pushseries), pushed as one
#     series into another fresh profefe and restarted; its merge (goal for the
#     flame graph: < 0.3 s), its total checked against Go's merge of the one
#     instance times the repeats.
#  4. Peak RSS: the growth of the server's VmHWM over a merge of 1 000 of the
#     day's profiles (a fresh restart and the peak reset before each, as
#     bench/merge_rss.sh does), against the peak RSS of
#     `go tool pprof -proto` on the same 1 000 files.
# Each is measured on the report endpoint, $MERGE_V1 (default
# /api/v1/merge, SPEC 6: report=flamegraph&sample_index=alloc_space; skipped
# with a line saying so while the server answers 404), and on the /api0
# range merge, $MERGE_V0 (/api/0/profiles/merge, which replies pprof).
# Needs B (build dir), tmp, start() and pids from run.sh.
set -euo pipefail

MERGE_V1=${MERGE_V1:-/api/v1/merge}
MERGE_V0=${MERGE_V0:-/api/0/profiles/merge}
GO_RUNS=${BENCH_GO_RUNS:-3}
DAY=8640
GOPPROF=${GOPPROF:-"$(go env GOTOOLDIR)/pprof"}
RANGE="from=2000-01-01T00:00:00&to=2100-01-01T00:00:00"

CORPUS=$(BUILD=$B bench/corpus.sh)
# the files in the order they were taken (the fetch time in the name)
mapfile -t all < <(ls "$CORPUS"/heap-*.pb.gz | awk -F- '{print $NF "\t" $0}' | sort | cut -f2)
mapfile -t one < <(ls "$CORPUS"/heap-a-*.pb.gz | sort)
n_all=${#all[@]}
n_one=${#one[@]}
echo "# reports: corpus $CORPUS, $n_all heap profiles ($n_one of instance a), $(du -sh "$CORPUS" | cut -f1)"

# fail MSG: the bench stops (a figure over wrong data is worse than none)
fail() { echo "bench: reports: $*" >&2; exit 1; }
# CPU seconds of a process so far: its threads' run time (ns, schedstat)
cpu_of() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END{printf "%.4f\n", s / 1e9}'; }
kb_of() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# restart DIR: a clean restart of the server on DIR (SRV_PID, SRV_PORT, url)
restart() {
	kill -TERM "$SRV_PID"
	wait "$SRV_PID" || true
	start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$1"
	url="http://127.0.0.1:$SRV_PORT"
}
# in_blocks N: everything (N profiles) sits in blocks, the head is empty
in_blocks() {
	local s
	s=$(curl -sS "$url/api/v1/status/tsdb")
	jq -e --argjson n "$1" '.data.head.profiles == 0 and .data.blocks.profiles == $n and .data.profiles == $n' \
		<<<"$s" >/dev/null || fail "after the restart the store is not all blocks: $s"
	echo "#   after a clean restart: $(jq -c '{profiles: .data.profiles, blocks: .data.blocks.count, in_blocks: .data.blocks.profiles, head: .data.head.profiles, wal_replayed: .data.wal.replayed}' <<<"$s")"
}
# srv_get OUT URL [curl args]: best wall time of 3 GETs and the least server
# CPU seconds of the 3; prints "WALL CPU", or "- -" when the reply is not
# 200 (its body left in OUT)
srv_get() {
	local out=$1 u=$2 best='' bcpu='' t c0 c1 code cpu
	shift 2
	for _ in 1 2 3; do
		c0=$(cpu_of "$SRV_PID")
		res=$(curl -sS -G -o "$out" -w '%{http_code} %{time_total}\n' "$@" "$u")
		read -r code t <<<"$res"
		c1=$(cpu_of "$SRV_PID")
		if [ "$code" != 200 ]; then
			echo "- -"
			return 0
		fi
		cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN{print b - a}')
		if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
		if [ -z "$bcpu" ] || awk "BEGIN{exit !($cpu < $bcpu)}"; then bcpu=$cpu; fi
	done
	echo "$best $bcpu"
}
# v1 OUT SELECTOR [curl args]: srv_get of the flame graph report
v1() {
	local out=$1 sel=$2
	shift 2
	srv_get "$out" "$url$MERGE_V1" --data-urlencode "query=$sel" --data-urlencode report=flamegraph \
		--data-urlencode sample_index=alloc_space "$@"
}
# go_merge OUT FILES...: `go tool pprof -proto` best of GO_RUNS: "WALL CPU RSS_MB"
go_merge() {
	local out=$1 best='' cpu='' rss='' t u s m
	shift
	for ((r = 0; r < GO_RUNS; r++)); do
		/usr/bin/time -f '%e %U %S %M' -o "$tmp/go.time" "$GOPPROF" -proto "$@" >"$out" 2>"$tmp/go.err" ||
			fail "go tool pprof -proto failed: $(tail -3 "$tmp/go.err")"
		read -r t u s m <"$tmp/go.time"
		if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then
			best=$t
			cpu=$(awk "BEGIN{print $u + $s}")
			rss=$(awk "BEGIN{print $m / 1024}")
		fi
	done
	echo "$best $cpu $rss"
}
# total_of FILE: alloc_space total of a pprof file, in bytes, as Go prints it
total_of() {
	local t
	t=$("$GOPPROF" -top -unit=B -sample_index=alloc_space "$1" 2>&1 | grep -oE 'of [0-9]+B total' | grep -oE '[0-9]+' || true)
	[ -n "$t" ] || fail "go tool pprof -top printed no total for $1"
	echo "$t"
}
# root_total FILE: the flame graph's root total (SPEC 6), "none" when the reply has none
root_total() { jq -r '.data.root.total // "none"' "$1" 2>/dev/null || echo none; }
same() { if [ "$1" = "$2" ]; then echo "equal"; else echo "DIFFERENT"; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (b > 0) printf "%.1f", a / b; else printf "-"}'; }

# ---- 1. the corpus as three interleaved series, from blocks ----
data=$tmp/data-reports
start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$data"
url="http://127.0.0.1:$SRV_PORT"
r=$(for f in "${all[@]}"; do
	i=$(basename "$f" | cut -d- -f2)
	echo "$url/api/0/profiles?service=corpus&type=heap&labels=instance=$i $f"
done | "$B/bench/pushseries") || fail "push of the corpus failed: $r"
echo "#   pushed the corpus: $r"
restart "$data"
in_blocks "$n_all"

res=$(go_merge "$tmp/go-all.pb.gz" "${all[@]}")
read -r g_all_t g_all_c g_all_m <<<"$res"
res=$(go_merge "$tmp/go-one.pb.gz" "${one[@]}")
read -r g_one_t g_one_c g_one_m <<<"$res"
tot_all=$(total_of "$tmp/go-all.pb.gz")
tot_one=$(total_of "$tmp/go-one.pb.gz")
printf 'reports: go tool pprof -proto of the corpus: %d files %.2fs (%.2f CPU s, %.0f MB) | instance a, %d files %.2fs (%.2f CPU s, %.0f MB) | alloc_space total %s and %s B\n' \
	"$n_all" "$g_all_t" "$g_all_c" "$g_all_m" "$n_one" "$g_one_t" "$g_one_c" "$g_one_m" "$tot_all" "$tot_one"

# report NAME WALL_ALL CPU_ALL TOTAL_ALL WALL_ONE CPU_ONE TOTAL_ONE: one line of figures
report() {
	printf 'reports: %-42s all %d: %.3fs (%.3f CPU s), go/ours %sx (goal >= 50; CPU %sx) | instance a, %d: %.3fs (%.3f CPU s), go/ours %sx | per profile all/one %.2fx (goal <= 2; CPU %.2fx) | alloc_space total %s vs Go %s: %s; %s vs %s: %s\n' \
		"$1" "$n_all" "$2" "$3" "$(ratio "$g_all_t" "$2")" "$(ratio "$g_all_c" "$3")" "$n_one" "$5" "$6" "$(ratio "$g_one_t" "$5")" \
		"$(awk -v a="$2" -v b="$5" -v na="$n_all" -v no="$n_one" 'BEGIN{print (b > 0) ? (a / na) / (b / no) : 0}')" \
		"$(awk -v a="$3" -v b="$6" -v na="$n_all" -v no="$n_one" 'BEGIN{print (b > 0) ? (a / na) / (b / no) : 0}')" \
		"$4" "$tot_all" "$(same "$4" "$tot_all")" "$7" "$tot_one" "$(same "$7" "$tot_one")"
}

res=$(v1 "$tmp/v1-all.json" '{service="corpus",type="heap"}')
read -r v1a_t v1a_c <<<"$res"
if [ "$v1a_t" = - ]; then
	echo "reports: $MERGE_V1 not measured: the server replied $(head -c 200 "$tmp/v1-all.json")"
	v1_on=0
else
	v1_on=1
	res=$(v1 "$tmp/v1-one.json" '{service="corpus",type="heap",instance="a"}')
	read -r v1o_t v1o_c <<<"$res"
	[ "$v1o_t" != - ] || fail "$MERGE_V1 of one instance: $(head -c 300 "$tmp/v1-one.json")"
	report "$MERGE_V1 flamegraph alloc_space" "$v1a_t" "$v1a_c" "$(root_total "$tmp/v1-all.json")" \
		"$v1o_t" "$v1o_c" "$(root_total "$tmp/v1-one.json")"
fi
res=$(srv_get "$tmp/v0-all.pb.gz" "$url$MERGE_V0?service=corpus&type=heap&$RANGE")
read -r v0a_t v0a_c <<<"$res"
res=$(srv_get "$tmp/v0-one.pb.gz" "$url$MERGE_V0?service=corpus&type=heap&labels=instance=a&$RANGE")
read -r v0o_t v0o_c <<<"$res"
if [ "$v0a_t" = - ] || [ "$v0o_t" = - ]; then fail "$MERGE_V0: $(head -c 300 "$tmp/v0-all.pb.gz")"; fi
report "$MERGE_V0 (pprof)" "$v0a_t" "$v0a_c" "$(total_of "$tmp/v0-all.pb.gz")" \
	"$v0o_t" "$v0o_c" "$(total_of "$tmp/v0-one.pb.gz")"
kill -TERM "$SRV_PID"
wait "$SRV_PID" || true
rm -rf "$data"

# ---- 2. a day of one series: instance a's files again and again, 10 s apart ----
data=$tmp/data-day
start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$data"
url="http://127.0.0.1:$SRV_PORT"
t0=$((($(date +%s) - 86400 - 600) / 10 * 10)) # the day before now, inside the retention window
r=$(for ((k = 0; k < DAY; k++)); do
	echo "$url/api/0/profiles?service=corpus-day&type=heap&labels=instance=a ${one[k % n_one]} $(((t0 + k * 10) * 1000000000))"
done | "$B/bench/pushseries") || fail "push of the day failed: $r"
echo "#   pushed the day: $r"
restart "$data"
in_blocks "$DAY"
# its total: the one instance's total for every whole repeat, plus Go's total of the rest
tot_day=$(awk -v t="$tot_one" -v q=$((DAY / n_one)) 'BEGIN{printf "%.0f", t * q}')
if [ $((DAY % n_one)) -gt 0 ]; then
	"$GOPPROF" -proto "${one[@]:0:$((DAY % n_one))}" >"$tmp/go-rest.pb.gz" 2>/dev/null || fail "go tool pprof -proto of the day's rest"
	tot_day=$(awk -v a="$tot_day" -v b="$(total_of "$tmp/go-rest.pb.gz")" 'BEGIN{printf "%.0f", a + b}')
fi
dayline() {
	printf 'reports: a day of one series, %d heap profiles, %-30s %.3fs (%.3f CPU s)%s | alloc_space total %s vs Go %s: %s\n' \
		"$DAY" "$1" "$2" "$3" "$4" "$5" "$tot_day" "$(same "$5" "$tot_day")"
}
if [ "$v1_on" = 1 ]; then
	res=$(v1 "$tmp/v1-day.json" '{service="corpus-day",type="heap"}')
	read -r d1_t d1_c <<<"$res"
	[ "$d1_t" != - ] || fail "$MERGE_V1 of the day: $(head -c 300 "$tmp/v1-day.json")"
	dayline "$MERGE_V1 flamegraph:" "$d1_t" "$d1_c" " (goal < 0.3 s)" "$(root_total "$tmp/v1-day.json")"
fi
res=$(srv_get "$tmp/v0-day.pb.gz" "$url$MERGE_V0?service=corpus-day&type=heap&$RANGE")
read -r d0_t d0_c <<<"$res"
[ "$d0_t" != - ] || fail "$MERGE_V0 of the day: $(head -c 300 "$tmp/v0-day.pb.gz")"
dayline "$MERGE_V0 (pprof):" "$d0_t" "$d0_c" "" "$(total_of "$tmp/v0-day.pb.gz")"

# ---- 3. peak RSS over a merge of 1 000 of the day's profiles ----
mapfile -t k1000 < <(for ((k = 0; k < 1000; k++)); do echo "${one[k % n_one]}"; done)
res=$(GO_RUNS=1 go_merge "$tmp/go-1k.pb.gz" "${k1000[@]}")
read -r g1k_t g1k_c g1k_m <<<"$res"
tot_1k=$(total_of "$tmp/go-1k.pb.gz")
end_1k=$(date -u -d "@$((t0 + 999 * 10))" +%Y-%m-%dT%H:%M:%SZ)
start_1k=$(date -u -d "@$t0" +%Y-%m-%dT%H:%M:%SZ)
# rss NAME OUT PATH [curl args]: a fresh restart, the peak reset (clear_refs
# 5: VmHWM becomes VmRSS), one merge; the growth is VmHWM after it minus
# VmRSS before it
rss() {
	local name=$1 out=$2 path=$3 h0 h1 code
	shift 3
	restart "$data"
	echo 5 >"/proc/$SRV_PID/clear_refs"
	h0=$(kb_of "$SRV_PID" VmRSS)
	code=$(curl -sS -G -o "$out" -w '%{http_code}' "$@" "$url$path")
	[ "$code" = 200 ] || fail "$name of 1000: HTTP $code $(head -c 300 "$out")"
	h1=$(kb_of "$SRV_PID" VmHWM)
	printf 'reports: peak RSS, merge of 1000 heap profiles: %-30s VmRSS %.1f MB before, VmHWM %.1f MB after, growth %.1f MB | go tool pprof -proto %.1f MB (%.2fs, %.2f CPU s) | growth/Go %.2fx (goal < 1)\n' \
		"$name" "$(awk "BEGIN{print $h0/1024}")" "$(awk "BEGIN{print $h1/1024}")" "$(awk "BEGIN{print ($h1-$h0)/1024}")" \
		"$g1k_m" "$g1k_t" "$g1k_c" "$(awk -v g="$g1k_m" "BEGIN{print (g > 0) ? ($h1-$h0)/1024/g : 0}")"
}
if [ "$v1_on" = 1 ]; then
	rss "$MERGE_V1 flamegraph" "$tmp/v1-1k.json" "$MERGE_V1" --data-urlencode 'query={service="corpus-day",type="heap"}' \
		--data-urlencode "start=$start_1k" --data-urlencode "end=$end_1k" \
		--data-urlencode report=flamegraph --data-urlencode sample_index=alloc_space
	t=$(root_total "$tmp/v1-1k.json")
	echo "#   its alloc_space total $t vs Go $tot_1k: $(same "$t" "$tot_1k")"
fi
rss "$MERGE_V0 (pprof)" "$tmp/v0-1k.pb.gz" "$MERGE_V0?service=corpus-day&type=heap&from=$start_1k&to=$end_1k"
t=$(total_of "$tmp/v0-1k.pb.gz")
echo "#   its alloc_space total $t vs Go $tot_1k: $(same "$t" "$tot_1k")"
kill -TERM "$SRV_PID"
wait "$SRV_PID" || true
rm -rf "$data"
