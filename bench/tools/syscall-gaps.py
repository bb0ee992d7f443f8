#!/usr/bin/env python3
"""The parent's critical path, one child at a time, from a system-wide syscall trace.

Reads `perf script` output of raw_syscalls:sys_enter/sys_exit and sched:sched_process_exit,
finds the parent (the thread that calls clone most), cuts its syscalls into one sequence per
child (from one clone to the next, with the child's exit in between) and prints, for the most
common sequence, the median time between consecutive events. A gap between two syscalls is the
parent's own work (JavaScript, V8, N-API); the gap after `child-exit` is the kernel finishing the
child and waking the parent.

To time stretches of JavaScript, call a marker from the code under study: `close(100000 + k)`
fails at once with EBADF and shows up here as `Mk` (e.g. `addon.close(100000 + 6)` at the start
of `processExited` prints `M6`; the addon's close takes any fd >= 0).

    perf record -a -e raw_syscalls:sys_enter -e raw_syscalls:sys_exit \\
        -e sched:sched_process_exit -o /tmp/t.data -- node <script spawning children>
    perf script -i /tmp/t.data -F comm,tid,cpu,time,event,trace | python3 bench/tools/syscall-gaps.py

The trace itself costs the parent ~0.3-1 us per syscall: compare gaps, not totals.
"""
import collections
import re
import statistics
import sys

NAMES = {0: 'read', 1: 'write', 3: 'close', 13: 'rt_sigaction', 14: 'rt_sigprocmask',
         15: 'rt_sigreturn', 16: 'ioctl', 56: 'clone', 59: 'execve', 61: 'wait4', 72: 'fcntl',
         202: 'futex', 232: 'epoll_wait', 233: 'epoll_ctl', 247: 'waitid', 281: 'epoll_pwait',
         293: 'pipe2', 435: 'clone3', 436: 'close_range'}
CLONES = (56, 435)
MARKER_BASE = 100000
LINE = re.compile(r'\s*(\S+)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)')


def main() -> None:
    events = []
    for line in sys.stdin:
        m = LINE.match(line)
        if m:
            events.append((m.group(1), int(m.group(2)), float(m.group(4)) * 1e6, m.group(5), m.group(6)))
    clones = collections.Counter(
        tid for _, tid, _, ev, args in events
        if ev == 'raw_syscalls:sys_enter' and int(args.split()[1]) in CLONES)
    if not clones:
        sys.exit('no clone in the trace')
    parent = clones.most_common(1)[0][0]
    sequences, current = [], None
    for comm, tid, ts, ev, args in events:
        if tid != parent:
            if ev == 'sched:sched_process_exit' and current is not None and comm != 'node':
                current.append(('child-exit', ts))
            continue
        if ev == 'raw_syscalls:sys_enter':
            nr = int(args.split()[1])
            name = NAMES.get(nr, str(nr))
            if nr == 3:
                fd = int(args.split('(')[1].split(',')[0], 16)
                if fd >= MARKER_BASE:
                    name = f'M{fd - MARKER_BASE}'
            if nr in CLONES:
                if current is not None:
                    current.append(('clone', ts))
                    sequences.append(current)
                current = [('clone', ts)]
            elif current is not None:
                current.append((name, ts))
        elif ev == 'raw_syscalls:sys_exit' and current is not None:
            current.append(('<-', ts))
    shapes = collections.Counter(tuple(n for n, _ in s) for s in sequences)
    shape, count = shapes.most_common(1)[0]
    rows = [s for s in sequences if tuple(n for n, _ in s) == shape]
    print(f'parent {parent}: {len(sequences)} children, {count} with the most common sequence; median us:')
    for i in range(1, len(shape)):
        gap = statistics.median(r[i][1] - r[i - 1][1] for r in rows)
        print(f'{shape[i - 1]:>14} -> {shape[i]:<14} {gap:7.1f}')
    print(f'{"clone to clone":>31} {statistics.median(r[-1][1] - r[0][1] for r in rows):7.1f}')


if __name__ == '__main__':
    main()
