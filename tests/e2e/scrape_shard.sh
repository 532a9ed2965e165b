#!/usr/bin/env bash
# -scrape.shard=I/N (issue 20): N servers reading one configuration split
# its targets by a hash of each target's labels (every profile type of a
# target on one shard), without overlap or gap; /api/v1/targets shows the
# shard of the server and of each target, and lists the other shards'
# targets under droppedTargets (?state=any or dropped). The targets are
# loopback ports nothing listens on: ownership, not scraping, is checked
# here. Then two shards scrape real targets (small HTTP servers serving
# a heap profile) into one ClickHouse: every target's profiles are stored,
# and the profiles of each shard's targets are exactly that shard's
# successful scrapes (no target scraped by both).
export PROFEFE_STORAGE=clickhouse
source "$(dirname "$0")/lib.bash"

CONF=$TMP/profefe.yaml
EIGHT=$TMP/eight.yaml # eight targets that never answer (the schedule is 1h)
targets=
for i in $(seq 1 8); do targets="$targets${targets:+, }'127.0.0.1:$((i + 1))'"; done
cat >"$EIGHT" <<YAML
global:
  scrape_interval: 1h
scrape_configs:
  - job_name: app
    static_configs:
      - targets: [$targets]
        labels: {service: sharded}
YAML

r=$("$PROFEFE_BIN" -scrape.shard 2/2 -tsdb.dir "$TMP/x" 2>&1; echo "exit $?")
expect_match "-scrape.shard 2/2 is refused" "$r" 'invalid value "2/2" for -scrape.shard: want I/N .*exit 2$'
r=$("$PROFEFE_BIN" -scrape.shard 1 -tsdb.dir "$TMP/x" 2>&1; echo "exit $?")
expect_match "-scrape.shard 1 is refused" "$r" 'for -scrape.shard: want I/N.*exit 2$'

# active instances (sorted, unique) of the server at URL
inst() { curl -sS "$URL/api/v1/targets${1:-}" | jq -c "[.data.${2:-activeTargets}[].labels.instance] | unique"; }

start_server "$TMP/a" -config.file "$EIGHT" -scrape.shard 0/2 || { notok "shard 0/2 starts"; finish; }
PID_A=$PID URL_A=$URL
a=$(inst) a_types=$(curl -sS "$URL/api/v1/targets" | jq '.data.activeTargets | length')
a_drop=$(inst '?state=dropped' droppedTargets)
expect "shard 0/2: /api/v1/targets says its shard" "$(curl -sS "$URL/api/v1/targets" | jq -r .data.shard)" "0/2"
expect "shard 0/2: each active target is shard 0/2" \
	"$(curl -sS "$URL/api/v1/targets" | jq -c '[.data.activeTargets[].shard] | unique')" '["0/2"]'
expect "shard 0/2: the other shard's targets are dropped here, shard 1/2" \
	"$(curl -sS "$URL/api/v1/targets?state=any" | jq -c '[.data.droppedTargets[].shard] | unique')" '["1/2"]'
start_server "$TMP/b" -config.file "$EIGHT" -scrape.shard 1/2 || { notok "shard 1/2 starts"; PID=$PID_A; finish; }
PID_B=$PID
b=$(inst) b_types=$(curl -sS "$URL/api/v1/targets" | jq '.data.activeTargets | length')
b_drop=$(inst '?state=dropped' droppedTargets)
echo "# shard 0/2: $a; shard 1/2: $b"
expect "both shards own targets" "$([ "$a" != "[]" ] && [ "$b" != "[]" ] && echo yes)" yes
expect "no target on both shards" "$(jq -nc --argjson a "$a" --argjson b "$b" '$a - ($a - $b)')" '[]'
expect "every target on one of them" "$(jq -nc --argjson a "$a" --argjson b "$b" '$a + $b | unique | length')" 8
expect "every type of a target on its shard: pairs = 7 types x targets" \
	"$a_types/$b_types" "$((7 * $(jq length <<<"$a")))/$((7 * $(jq length <<<"$b")))"
expect "shard 0/2 lists shard 1/2's targets as dropped, and the reverse" "$a_drop $b_drop" "$b $a"
kill -TERM "$PID_B"; wait "$PID_B"; expect "shard 1/2 exits 0" "$?" 0
PID=$PID_A URL=$URL_A
stop_server

# ---- two shards scraping real targets into one ClickHouse
APIDS=()
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; for p in "${APIDS[@]}"; do kill $p 2>/dev/null; done; ch_stop' EXIT
mkdir -p "$TMP/www/debug/pprof"
cp "$FIX/pprof/heap-001.pb.gz" "$TMP/www/debug/pprof/heap"
addrs=
serving=0
serve_one() { # one more HTTP server serving the heap profile, added to addrs
	local p port up
	for _ in 1 2 3 4 5; do # a port taken meanwhile: another one
		port=$(ch__free_port)
		(cd "$TMP/www" && exec python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) &
		p=$!
		up=
		for _ in $(seq 1 100); do
			curl -fsS -o /dev/null "http://127.0.0.1:$port/debug/pprof/heap" 2>/dev/null && { up=1; break; }
			kill -0 $p 2>/dev/null || break
			sleep 0.05
		done
		if [ -n "$up" ]; then
			APIDS+=($p)
			addrs="$addrs${addrs:+, }'127.0.0.1:$port'"
			serving=$((serving + 1))
			return 0
		fi
		kill $p 2>/dev/null
	done
	return 1
}
for i in 1 2 3 4 5 6; do serve_one; done
expect "six targets serve a heap profile" "$serving" 6
write_real() {
	cat >"$CONF" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: real
    static_configs:
      - targets: [$1]
        labels: {service: realshard}
    profiling_config:
      pprof_config:
        cpu: {enabled: false}
        allocs: {enabled: false}
        block: {enabled: false}
        mutex: {enabled: false}
        goroutine: {enabled: false}
        threadcreate: {enabled: false}
YAML
}
write_real "$addrs"
start_server "$TMP/real" -config.file "$CONF" -scrape.shard 0/2 || { notok "shard 0/2 starts on ClickHouse"; finish; }
PID_A=$PID URL_A=$URL
start_server "$TMP/real" -config.file "$CONF" -scrape.shard 1/2 || { notok "shard 1/2 starts on ClickHouse"; PID=$PID_A; finish; }
PID_B=$PID URL_B=$URL
owned() { curl -sS "$1/api/v1/targets" | jq -c '[.data.activeTargets[].labels.instance] | unique'; }
# the ports are random, so all six may hash to one shard (1 in 32): then
# one more target at a time, by a reload of both, until each owns one
ia=$(owned "$URL_A") ib=$(owned "$URL_B")
while { [ "$ia" = "[]" ] || [ "$ib" = "[]" ]; } && [ "$serving" -lt 16 ]; do
	serve_one || break
	write_real "$addrs"
	for u in "$URL_A" "$URL_B"; do curl -sS -o /dev/null -X POST "$u/-/reload"; done
	ia=$(owned "$URL_A") ib=$(owned "$URL_B")
done
echo "# $serving targets; shard 0/2 owns $ia, shard 1/2 $ib"
# until every target was scraped once (by its shard)
for _ in $(seq 1 200); do
	n=$(curl -sS "$URL_B/api/0/profiles?service=realshard&type=heap&from=2000-01-01T00:00:00&to=2100-01-01T00:00:00" | jq '[.body[]?.labels[] | select(.key == "instance") | .value] | unique | length')
	[ "${n:-0}" -ge "$serving" ] && break
	sleep 0.1
done
# stop scraping on both (a reload to no targets), then count
write_real ""
for u in "$URL_A" "$URL_B"; do curl -sS -o /dev/null -X POST "$u/-/reload"; done
sleep 1
ok_a=$(curl -sS "$URL_A/metrics" | sed -n 's/^profefe_scrapes_total{job="real",result="success"} \([0-9]*\)$/\1/p')
ok_b=$(curl -sS "$URL_B/metrics" | sed -n 's/^profefe_scrapes_total{job="real",result="success"} \([0-9]*\)$/\1/p')
found=$(curl -sS "$URL_A/api/0/profiles?service=realshard&type=heap&from=2000-01-01T00:00:00&to=2100-01-01T00:00:00")
echo "# successful scrapes: shard 0/2 $ok_a, shard 1/2 $ok_b"
expect "every target's profiles are in ClickHouse (no gap)" \
	"$(jq '[.body[].labels[] | select(.key == "instance") | .value] | unique | length' <<<"$found")" "$serving"
# per shard: the profiles of the targets it owns are its successful
# scrapes (a target scraped by both would add to one shard's scrapes
# profiles of the other's targets)
of() { jq --argjson s "$1" '[.body[] | select(.labels[] | select(.key == "instance") | .value | IN($s[]))] | length' <<<"$found"; }
expect "profiles of each shard's targets = that shard's successful scrapes (none scraped by both)" \
	"$(of "$ia")/$(of "$ib")" "${ok_a:-0}/${ok_b:-0}"
expect "the shards' targets are disjoint and cover all $serving" \
	"$(jq -nc --argjson a "$ia" --argjson b "$ib" '[($a - ($a - $b) | length), ($a + $b | unique | length)]')" "[0,$serving]"
expect "both shards scraped" "$([ "${ok_a:-0}" -gt 0 ] && [ "${ok_b:-0}" -gt 0 ] && echo yes)" yes
kill -TERM "$PID_B"; wait "$PID_B"; expect "shard 1/2 exits 0" "$?" 0
PID=$PID_A
stop_server
for p in "${APIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
APIDS=()

start_server "$TMP/c" -config.file "$EIGHT" || { notok "unsharded server starts"; finish; }
expect "without -scrape.shard: every target, no shard fields, nothing dropped" \
	"$(curl -sS "$URL/api/v1/targets?state=any" | jq -c '[(.data.activeTargets | map(.labels.instance) | unique | length), .data.shard, (.data.activeTargets | map(.shard) | unique), (.data.droppedTargets | length)]')" \
	'[8,null,[null],0]'
stop_server
finish
