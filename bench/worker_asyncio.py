"""One benchmark case in a fresh CPython process, with one of asyncio's child watchers.

Usage: python3 bench/worker_asyncio.py <pidfd|threaded|safe|fast|multiloop> <case-json>

The same workloads as bench/worker.mjs, through asyncio.create_subprocess_exec and Process.wait()
/ communicate() under asyncio.run(), after asyncio.set_child_watcher(<watcher>) (the policy
attaches it to the loop asyncio.run creates). Every exit status and captured byte is checked and
no child of this process may be left in /proc at the end. Prints `@@RESULT {...}` last.
"""
import asyncio
import gc
import json
import os
import resource
import sys
import time
import warnings

TRUE_BIN = '/usr/bin/true'
SLEEP_BIN = '/usr/bin/sleep'
ECHO_BIN = '/usr/bin/echo'
DEVNULL = asyncio.subprocess.DEVNULL
PIPE = asyncio.subprocess.PIPE

errors = []
error_count = 0


def fail(msg):
    global error_count
    error_count += 1
    if error_count <= 20:
        errors.append(msg)


def now_us():
    return time.monotonic_ns() / 1e3


def cpu_us():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return (ru.ru_utime + ru.ru_stime) * 1e6


def payload_of(n):
    alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
    return ''.join(alphabet[i % 36] for i in range(n))


def percentile(sorted_values, p):
    i = round(p * (len(sorted_values) - 1))
    return sorted_values[min(len(sorted_values) - 1, max(0, i))]


def self_status():
    rss = threads = -1
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                rss = int(line.split()[1])
            elif line.startswith('Threads:'):
                threads = int(line.split()[1])
    return rss, threads


def children_of(ppid):
    out = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open(f'/proc/{name}/stat', 'rb') as f:
                stat = f.read().decode('latin1')
        except OSError:
            continue
        rest = stat[stat.rindex(')') + 2:].split(' ')
        if int(rest[1]) == ppid:
            out.append((int(name), rest[0]))
    return out


NULLS = dict(stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)


async def run_true():
    p = await asyncio.create_subprocess_exec(TRUE_BIN, **NULLS)
    return await p.wait()


async def start_sleeper():
    return await asyncio.create_subprocess_exec(SLEEP_BIN, '1000', **NULLS)


async def run_echo(payload):
    p = await asyncio.create_subprocess_exec(ECHO_BIN, '-n', payload, stdin=DEVNULL, stdout=PIPE, stderr=DEVNULL)
    out, _ = await p.communicate()
    return p.returncode, out


async def warm(n, what='true'):
    for _ in range(n):
        if what == 'echo':
            rc, out = await run_echo('warm')
            if rc != 0 or out != b'warm':
                fail(f'warm-up echo: rc {rc}, {len(out)} bytes')
        else:
            rc = await run_true()
            if rc != 0:
                fail(f'warm-up true: rc {rc}')


async def sequential_true(n):
    c0 = cpu_us()
    t0 = now_us()
    for i in range(n):
        rc = await run_true()
        if rc != 0:
            fail(f'true #{i}: returncode {rc}')
    return dict(time_us=now_us() - t0, cpu_us=cpu_us() - c0, n=n)


async def start_sleepers(k):
    return [await start_sleeper() for _ in range(k)]


async def stop_sleepers(sleepers):
    for s in sleepers:
        s.kill()
    rcs = await asyncio.gather(*(s.wait() for s in sleepers))
    for s, rc in zip(sleepers, rcs):
        if rc != -9:
            fail(f'sleeper {s.pid}: returncode {rc}, wanted -9')


async def w1(p):
    await warm(p['warmup'])
    return await sequential_true(p['n'])


async def w2(p):
    await warm(p['warmup'])
    n, limit = p['n'], p['inflight']
    state = dict(next=0, inflight=0, max=0, done=0)

    async def lane():
        while state['next'] < n:
            i = state['next']
            state['next'] += 1
            state['inflight'] += 1
            state['max'] = max(state['max'], state['inflight'])
            rc = await run_true()
            state['inflight'] -= 1
            state['done'] += 1
            if rc != 0:
                fail(f'true #{i}: returncode {rc}')

    c0 = cpu_us()
    t0 = now_us()
    await asyncio.gather(*(lane() for _ in range(limit)))
    elapsed = now_us() - t0
    if state['done'] != n:
        fail(f"W2: {state['done']} of {n} children finished")
    if state['max'] > limit:
        fail(f"W2: {state['max']} in flight, limit {limit}")
    return dict(time_us=elapsed, cpu_us=cpu_us() - c0, n=n, inflight=limit, max_inflight=state['max'])


async def w3(p):
    await warm(p['warmup'])
    s0 = now_us()
    sleepers = await start_sleepers(p['k'])
    setup = now_us() - s0
    fds = len(os.listdir('/proc/self/fd')) - 1
    m = await sequential_true(p['n'])
    await stop_sleepers(sleepers)
    m.update(k=p['k'], setup_us=setup, fds=fds)
    return m


async def w4(p):
    for _ in range(p['warmup']):
        s = await start_sleeper()
        s.kill()
        rc = await s.wait()
        if rc != -9:
            fail(f'warm-up sleeper: returncode {rc}')
    lat = []
    for _ in range(p['n']):
        s = await start_sleeper()
        t0 = now_us()
        s.kill()
        rc = await s.wait()
        lat.append(now_us() - t0)
        if rc != -9:
            fail(f'sleeper {s.pid}: returncode {rc}, wanted -9')
    lat.sort()
    return dict(p50_us=percentile(lat, 0.5), p99_us=percentile(lat, 0.99), n=p['n'])


async def w5(p):
    await warm(p['warmup'])
    gc.collect()
    await asyncio.sleep(0)
    rss0, th0 = self_status()
    s0 = now_us()
    half = p['k'] // 2
    sleepers = await start_sleepers(half)
    await asyncio.sleep(0)
    gc.collect()
    rss_mid, _ = self_status()
    sleepers += await start_sleepers(p['k'] - half)
    setup = now_us() - s0
    await asyncio.sleep(0)
    gc.collect()
    rss1, th1 = self_status()
    await stop_sleepers(sleepers)
    return dict(kib_per_child=(rss1 - rss0) / p['k'], rss0_kib=rss0, rss1_kib=rss1,
                kib_per_child_2nd_half=(rss1 - rss_mid) / (p['k'] - half), threads0=th0, threads=th1,
                k=p['k'], setup_us=setup)


async def w6(p):
    payload = payload_of(p['bytes'])
    want = payload.encode('latin1')
    await warm(p['warmup'], 'echo')
    c0 = cpu_us()
    t0 = now_us()
    for i in range(p['n']):
        rc, out = await run_echo(payload)
        if rc != 0:
            fail(f'echo #{i}: returncode {rc}')
        if out != want:
            fail(f'echo #{i}: captured {len(out)} bytes, wanted {len(want)} (or they differ)')
    return dict(time_us=now_us() - t0, cpu_us=cpu_us() - c0, n=p['n'], bytes=p['bytes'])


BALLAST = None


async def w7(p):
    # BALLAST (heapMiB MiB, every page written) was allocated by main() before the loop started.
    await warm(p['warmup'])
    m = await sequential_true(p['n'])
    m.update(heap_mib=p['heapMiB'], rss_kib=self_status()[0])
    return m


WORKLOADS = dict(W1=w1, W2=w2, W3=w3, W4=w4, W5=w5, W6=w6, W7=w7)


def main():
    global BALLAST
    watcher_name, case_json = sys.argv[1], sys.argv[2]
    spec = json.loads(case_json)
    metrics = {}
    warnings.simplefilter('ignore', DeprecationWarning)
    try:
        watcher = dict(
            pidfd=asyncio.PidfdChildWatcher, threaded=asyncio.ThreadedChildWatcher, safe=asyncio.SafeChildWatcher,
            fast=asyncio.FastChildWatcher, multiloop=asyncio.MultiLoopChildWatcher,
        )[watcher_name]()
        asyncio.set_child_watcher(watcher)
        if spec['workload'] == 'W7':
            # The ballast: heapMiB MiB of bytes written (every page touched), live during the run.
            BALLAST = b'\x01' * (spec['params']['heapMiB'] << 20)
        metrics = asyncio.run(WORKLOADS[spec['workload']](spec['params']))
    except Exception as exc:  # noqa: BLE001 - reported as a failed run
        fail(f'exception: {exc!r}')
    for pid, state in children_of(os.getpid()):
        fail(f'child {pid} left in /proc, state {state}')
    print('@@RESULT ' + json.dumps(dict(ok=error_count == 0, errorCount=error_count, errors=errors, metrics=metrics)),
          flush=True)


if __name__ == '__main__':
    main()
