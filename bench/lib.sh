# What the benchmark scripts share; sourced from the repository's root.

# bench_proc_cpu PID: the process's CPU seconds so far (utime + stime of all
# its threads, /proc/PID/stat).
bench_proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# bench_profefe_port LOG: the port a profefe started with -addr 127.0.0.1:0
# logs (waits up to 20 s for it); prints nothing when it does not come.
bench_profefe_port() {
	local port=
	for _ in $(seq 1 400); do
		port=$(grep -soE 'port=[0-9]+' "$1" | head -1 | cut -d= -f2 || true)
		[ -n "$port" ] && break
		sleep 0.05
	done
	echo "$port"
}

# bench_proc_switches PID: the voluntary context switches of the process's
# threads so far (/proc/PID/task/*/status): a thread that sleeps (on a lock,
# an fsync, a socket) and is woken again counts one.
bench_proc_switches() {
	cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n + 0}'
}
