#!/usr/bin/env bash
# Scrape benchmark (issue 4, SPEC §4 and §10.10): how many (target, type)
# pairs one profefe keeps on schedule at a 10 s interval. Targets are the
# loopback ports of bench/staticd, which serves the pprof fixtures
# (cpu-001, heap-001, ... of tests/fixtures/pprof) from memory; every pair
# is a real scrape: HTTP, pprof_decode, totals, a durable tsdb_append.
#
# For each pair count: start staticd on ceil(pairs / 7) ports, profefe
# with one job listing them (7 types each, cpu with seconds=10), let one
# interval pass (every pair's first slot), then measure for
# BENCH_SCRAPE_SECONDS (default 60): profefe's CPU (utime + stime from
# /proc), its RSS at the end and its peak, and from /metrics the scrapes
# started, stored and skipped and the schedule lag (actual start minus
# planned start, from profefe_scrape_schedule_lag_seconds; quantiles are
# interpolated in the histogram's buckets as Prometheus's
# histogram_quantile does).
#
#   bench/scrape.sh [PAIRS...]      default: 1000 10000
# BENCH_SCRAPE_HOLD=1 makes staticd hold ?seconds= requests (CPU profiles)
# for their seconds, as Go does.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
SECS=${BENCH_SCRAPE_SECONDS:-60}
INTERVAL=10
HOLD=${BENCH_SCRAPE_HOLD:-0}
PAIRS=("$@")
[ ${#PAIRS[@]} -gt 0 ] || PAIRS=(1000 10000)
tmp=$(mktemp -d /tmp/profefe-bench-scrape.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
TCK=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
metrics() { curl -s "http://127.0.0.1:$1/metrics"; }
# sum of a metric's samples whose line starts with PREFIX
msum() { awk -v p="$2" 'index($0, p) == 1 {s += $NF} END {printf "%.0f\n", s}' "$1"; }

# quantile Q M0 M1: from the lag histogram's bucket deltas
quantile() {
	paste <(grep '^profefe_scrape_schedule_lag_seconds_bucket' "$2") \
		<(grep '^profefe_scrape_schedule_lag_seconds_bucket' "$3") |
		awk -v q="$1" '{
			le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
			n++; bound[n] = (le == "+Inf") ? 1e9 : le + 0; cum[n] = $4 - $2
		} END {
			total = cum[n]; if (total == 0) { print "nan"; exit }
			rank = q * total; prev = 0; pb = 0
			for (i = 1; i <= n; i++) {
				if (cum[i] >= rank) {
					if (bound[i] == 1e9) { printf ">%g\n", pb; exit }
					w = cum[i] - prev
					printf "%.4f\n", pb + (bound[i] - pb) * (w > 0 ? (rank - prev) / w : 1); exit
				}
				prev = cum[i]; pb = bound[i]
			}
		}'
}

echo "# machine: $(nproc) cores, $(uname -m), load average $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
echo "# interval ${INTERVAL}s, measured over ${SECS}s after one interval of warm-up$([ "$HOLD" = 1 ] && echo ', CPU requests held for their seconds')"
for pairs in "${PAIRS[@]}"; do
	ntargets=$(((pairs + 6) / 7))
	d=$tmp/$pairs
	mkdir -p "$d"
	hold=()
	[ "$HOLD" = 1 ] && hold=(-hold)
	"$B/bench/staticd" -n "$ntargets" -ports-file "$d/ports" "${hold[@]}" >"$d/staticd.log" 2>&1 &
	spid=$!
	pids+=($spid)
	for _ in $(seq 1 200); do grep -q 'staticd port' "$d/staticd.log" && break; sleep 0.05; done
	{
		echo "global: {scrape_interval: ${INTERVAL}s}"
		echo "scrape_configs:"
		echo "  - job_name: bench"
		echo "    static_configs:"
		echo "      - targets:"
		sed 's/^/          - 127.0.0.1:/' "$d/ports"
	} >"$d/profefe.yaml"
	"$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$d/data" -config.file "$d/profefe.yaml" 2>"$d/profefe.log" &
	ppid=$!
	pids+=($ppid)
	port=
	for _ in $(seq 1 400); do
		port=$(sed -n 's/.*msg="profefe started".* port=\([0-9]*\).*/\1/p' "$d/profefe.log" | head -1)
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { echo "bench: profefe did not start"; cat "$d/profefe.log"; exit 1; }
	npairs=$(metrics "$port" | awk '$1 == "profefe_scrape_targets{job=\"bench\"}" {print $2}')
	sleep $((INTERVAL + 1))
	metrics "$port" >"$d/m0"
	c0=$(cpu_ticks "$ppid")
	t0=$(date +%s.%N)
	sleep "$SECS"
	metrics "$port" >"$d/m1"
	c1=$(cpu_ticks "$ppid")
	t1=$(date +%s.%N)
	rss=$(rss_kb "$ppid" VmRSS)
	hwm=$(rss_kb "$ppid" VmHWM)
	kill -TERM "$ppid"
	wait "$ppid" || true
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true

	el=$(awk "BEGIN{print $t1 - $t0}")
	started=$(($(msum "$d/m1" profefe_scrape_schedule_lag_seconds_count) - $(msum "$d/m0" profefe_scrape_schedule_lag_seconds_count)))
	ok=$(($(msum "$d/m1" 'profefe_scrapes_total{job="bench",result="success"}') - $(msum "$d/m0" 'profefe_scrapes_total{job="bench",result="success"}')))
	fails=$(($(msum "$d/m1" 'profefe_scrapes_total{job="bench"') - $(msum "$d/m0" 'profefe_scrapes_total{job="bench"') - ok))
	skipped=$(($(msum "$d/m1" 'profefe_scrapes_skipped_total{job="bench"') - $(msum "$d/m0" 'profefe_scrapes_skipped_total{job="bench"')))
	shed=$(($(msum "$d/m1" 'profefe_scrapes_skipped_total{job="bench",reason="overloaded"}') - $(msum "$d/m0" 'profefe_scrapes_skipped_total{job="bench",reason="overloaded"}')))
	planned=$(awk "BEGIN{printf \"%.0f\", $npairs * $el / $INTERVAL}")
	printf 'scrape %6d pairs (%d targets x 7 types) @%ds: CPU %5.1f%% of a core, RSS %6.1f MB (peak %6.1f MB) | started %d of %d planned (%.1f%%), stored %d, failed %d, skipped %d (overloaded %d) | lag p50 %ss p99 %ss p99.9 %ss\n' \
		"$npairs" "$ntargets" "$INTERVAL" \
		"$(awk "BEGIN{print 100 * ($c1 - $c0) / $TCK / $el}")" \
		"$(awk "BEGIN{print $rss / 1024}")" "$(awk "BEGIN{print $hwm / 1024}")" \
		"$started" "$planned" "$(awk "BEGIN{print ($planned > 0) ? 100 * $started / $planned : 0}")" \
		"$ok" "$fails" "$skipped" "$shed" \
		"$(quantile 0.5 "$d/m0" "$d/m1")" "$(quantile 0.99 "$d/m0" "$d/m1")" "$(quantile 0.999 "$d/m0" "$d/m1")"
	grep -E 'level=(warn|error)' "$d/profefe.log" | grep -v 'scrape target' | head -5 | sed 's/^/#   profefe: /' || true
	rm -rf "$d/data"
done
