#!/usr/bin/env bash
# -scrape.shard=I/N (issue 20): N servers reading one configuration split
# its targets by a hash of each target's labels (every profile type of a
# target on one shard), without overlap or gap; /api/v1/targets shows the
# shard of the server and of each target, and lists the other shards'
# targets under droppedTargets (?state=any or dropped). The targets are
# loopback ports nothing listens on: ownership, not scraping, is checked
# here.
source "$(dirname "$0")/lib.bash"

CONF=$TMP/profefe.yaml
targets=
for i in $(seq 1 8); do targets="$targets${targets:+, }'127.0.0.1:$((i + 1))'"; done
cat >"$CONF" <<YAML
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

start_server "$TMP/a" -config.file "$CONF" -scrape.shard 0/2 || { notok "shard 0/2 starts"; finish; }
PID_A=$PID URL_A=$URL
a=$(inst) a_types=$(curl -sS "$URL/api/v1/targets" | jq '.data.activeTargets | length')
a_drop=$(inst '?state=dropped' droppedTargets)
expect "shard 0/2: /api/v1/targets says its shard" "$(curl -sS "$URL/api/v1/targets" | jq -r .data.shard)" "0/2"
expect "shard 0/2: each active target is shard 0/2" \
	"$(curl -sS "$URL/api/v1/targets" | jq -c '[.data.activeTargets[].shard] | unique')" '["0/2"]'
expect "shard 0/2: the other shard's targets are dropped here, shard 1/2" \
	"$(curl -sS "$URL/api/v1/targets?state=any" | jq -c '[.data.droppedTargets[].shard] | unique')" '["1/2"]'
start_server "$TMP/b" -config.file "$CONF" -scrape.shard 1/2 || { notok "shard 1/2 starts"; PID=$PID_A; finish; }
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

start_server "$TMP/c" -config.file "$CONF" || { notok "unsharded server starts"; finish; }
expect "without -scrape.shard: every target, no shard fields, nothing dropped" \
	"$(curl -sS "$URL/api/v1/targets?state=any" | jq -c '[(.data.activeTargets | map(.labels.instance) | unique | length), .data.shard, (.data.activeTargets | map(.shard) | unique), (.data.droppedTargets | length)]')" \
	'[8,null,[null],0]'
stop_server
finish
