# A real clickhouse-server for tests (source after lib.bash): on 127.0.0.1,
# free ports, a data directory under $TMP, server-wide zstd (level
# CH_ZSTD_LEVEL, default 1: no test measures bytes, and level 15 costs
# ClickHouse several times the CPU per profile; the size benchmarks,
# bench/clickhouse_*.sh, set 15: on a 3-minute hotapp sample the mix came to
# 0.096 of the gzip bytes, against 0.114 at level 1),
# stopped by its pid when the test exits. Debian's clickhouse-server 18.16 (make deps
# installs it); its start takes about 0.3 s on the 2-core test machine.
#
#   ch_start      start it; sets CH_PID, CH_HTTP (port), CH_URL, CH_DSN
#                 (database profefe_test); returns 1 when it does not answer
#   ch_sql SQL    run SQL through the HTTP interface, print the reply
#   ch_stop       stop it (SIGTERM, then SIGKILL after 10 s)
#   ch_restart_later S / ch_wait_restart: stop it, start it again S seconds
#                 later (same ports and data), wait for that
CH_PID=
CH_HTTP=
CH_URL=
CH_DSN=
CH_DIR=

# a port nothing listens on (the server's bind is the final check: a start
# that fails on a taken port is retried with others)
ch__free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
	done
	return 1
}

ch_start() {
	local tcp try
	if ! command -v /usr/sbin/clickhouse-server >/dev/null 2>&1 &&
		! command -v clickhouse-server >/dev/null 2>&1; then
		echo "# clickhouse-server is not installed (make deps installs it)"
		return 1
	fi
	CH_DIR=$TMP/clickhouse
	for try in 1 2 3; do
		rm -rf "$CH_DIR"
		mkdir -p "$CH_DIR/data/tmp" "$CH_DIR/data/user_files" "$CH_DIR/data/format_schemas"
		CH_HTTP=$(ch__free_port) && tcp=$(ch__free_port) || return 1
		cat >"$CH_DIR/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$CH_DIR/server.log</log><errorlog>$CH_DIR/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$CH_HTTP</http_port>
  <tcp_port>$tcp</tcp_port>
  <path>$CH_DIR/data/</path>
  <tmp_path>$CH_DIR/data/tmp/</tmp_path>
  <user_files_path>$CH_DIR/data/user_files/</user_files_path>
  <format_schema_path>$CH_DIR/data/format_schemas/</format_schema_path>
  <users_config>$CH_DIR/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <compression><case><method>zstd</method><level>${CH_ZSTD_LEVEL:-1}</level></case></compression>
</yandex>
EOF
		cat >"$CH_DIR/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
		CH_URL=http://127.0.0.1:$CH_HTTP/
		CH_DSN="http://127.0.0.1:$CH_HTTP/?database=profefe_test"
		ch__launch && return 0
		echo "# clickhouse-server did not answer (try $try):"
		tail -n 5 "$CH_DIR/server.err.log" "$CH_DIR/stdout" 2>/dev/null | sed 's/^/#   /'
		ch_stop
	done
	return 1
}

# start the server of $CH_DIR/config.xml, wait until it answers
ch__launch() {
	/usr/sbin/clickhouse-server --config-file="$CH_DIR/config.xml" >>"$CH_DIR/stdout" 2>&1 &
	CH_PID=$!
	for _ in $(seq 1 400); do
		[ "$(curl -sS --max-time 2 "$CH_URL" --data-binary 'SELECT version()' 2>/dev/null)" != "" ] && return 0
		kill -0 "$CH_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# ch_restart_later SECONDS: stop the server now, start it again (same ports
# and data) after SECONDS, in the background of the caller (ch_wait_restart)
ch_restart_later() {
	ch_stop
	( sleep "$1"; ch__launch; echo "$CH_PID" >"$CH_DIR/pid" ) &
	CH_RESTARTER=$!
}
ch_wait_restart() {
	wait "$CH_RESTARTER"
	CH_PID=$(cat "$CH_DIR/pid" 2>/dev/null)
	[ -n "$CH_PID" ] && curl -sS --max-time 5 "$CH_URL" --data-binary 'SELECT 1' >/dev/null 2>&1
}

ch_sql() {
	curl -sS --max-time 60 "$CH_URL" --data-binary "$1"
}

ch_stop() {
	[ -n "$CH_PID" ] || return 0
	kill -TERM "$CH_PID" 2>/dev/null || true
	for _ in $(seq 1 200); do
		kill -0 "$CH_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$CH_PID" 2>/dev/null || true
	wait "$CH_PID" 2>/dev/null || true
	CH_PID=
}
trap 'ch_stop; [ -n "${PID:-}" ] && kill -9 $PID 2>/dev/null' EXIT
