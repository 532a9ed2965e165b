#!/usr/bin/env python3
# cpuprof.py CMD...: runs CMD and prints (to stderr) the CPU seconds of each kind of its
# descendant processes (chromium by --type, firefox, profefe, hotapp, node, ...), each
# process's own utime+stime from /proc/PID/stat sampled every 0.2 s (one that ends between
# two samples loses less than 0.2 s). Unlike a parent's cutime, it counts the processes
# nobody reaps (chromium's and firefox's helpers). Used for BENCHMARKS.md's browser tests.
import os, sys, time, subprocess, collections
TCK = os.sysconf('SC_CLK_TCK')
p = subprocess.Popen(sys.argv[1:])
seen = {}  # pid -> (cat, ticks)
def cat_of(pid):
    try:
        cmd = open(f'/proc/{pid}/cmdline','rb').read().replace(b'\0', b' ').decode(errors='replace')
    except Exception: return None
    c = cmd
    if 'chromium' in c or 'chrome' in c:
        for k in ('--type=renderer','--type=gpu-process','--type=utility','--type=zygote'):
            if k in c: return 'chromium' + k.replace('--type=', ':')
        return 'chromium:browser'
    if 'firefox' in c:
        return 'firefox:content' if '-contentproc' in c else 'firefox:main'
    if 'build/profefe' in c or c.startswith(os.environ.get('PROFEFE_BIN','xx')): return 'profefe'
    if 'hotapp' in c: return 'hotapp'
    if 'pprof-pushday' in c: return 'pushday'
    if c.startswith('node') or '/node ' in c: return 'node'
    if c.startswith('make'): return 'make'
    if 'go ' in c or 'pprof' in c: return 'go'
    return 'other:' + c[:40]
def children_all():
    # build ppid map
    ppid = {}
    for d in os.listdir('/proc'):
        if not d.isdigit(): continue
        try:
            s = open(f'/proc/{d}/stat').read()
            rest = s[s.rindex(')')+2:].split()
            ppid[int(d)] = (int(rest[1]), int(rest[11]) + int(rest[12]))
        except Exception: pass
    desc = {p.pid}; changed = True
    while changed:
        changed = False
        for pid, (pp, _) in ppid.items():
            if pp in desc and pid not in desc: desc.add(pid); changed = True
    return {pid: ppid[pid][1] for pid in desc if pid in ppid}
t0 = time.time()
while p.poll() is None:
    for pid, ticks in children_all().items():
        if pid not in seen or seen[pid][0] is None:
            seen[pid] = [cat_of(pid), ticks]
        else: seen[pid][1] = ticks
    time.sleep(0.2)
tot = collections.Counter()
for pid, (c, t) in seen.items(): tot[c or '?'] += t / TCK
ru = os.times()
print(f'# cpuprof: wall {time.time()-t0:.1f} s, children CPU (reaped) {ru.children_user + ru.children_system:.1f} s', file=sys.stderr)
for c, v in tot.most_common(): print(f'#   {c:28s} {v:7.1f} s', file=sys.stderr)
sys.exit(p.returncode)
