// The workloads W1-W7 and their parameters, shared by the driver and the Node worker (the Python
// worker and the C floor get the same numbers on their command line).

export const TRUE_BIN = '/usr/bin/true';
export const SLEEP_BIN = '/usr/bin/sleep';
export const ECHO_BIN = '/usr/bin/echo';

/** The bytes W6's children write: a repeating printable pattern, so any corruption shows. */
export function payloadOf(bytes) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < bytes; i++) s += alphabet[i % 36];
  return s;
}

/** Nearest-rank percentile of a sorted array (the same rule as floor.c and worker_asyncio.py). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.round(p * (sorted.length - 1));
  return sorted[Math.min(sorted.length - 1, Math.max(0, i))];
}

/**
 * The cases of one repetition. `metric` is what the ratio to the floor is computed on; `unit`
 * and `per` say how to show it (`per: 'n'` divides a total time by the number of children).
 */
export function casesFor(mode) {
  const q = mode === 'quick';
  const warmup = q ? 5 : 20;
  const w3 = q ? [0, 100] : [0, 100, 1000];
  return [
    { id: 'W1', workload: 'W1', params: { n: q ? 100 : 1000, warmup }, metric: 'time_us', per: 'n' },
    { id: 'W2', workload: 'W2', params: { n: q ? 200 : 2000, inflight: 64, warmup }, metric: 'time_us', per: 'n' },
    ...w3.map((k) => ({
      id: `W3 K=${k}`, workload: 'W3', params: { n: q ? 50 : 200, k, warmup }, metric: 'time_us', per: 'n',
    })),
    { id: 'W4', workload: 'W4', params: { n: q ? 50 : 300, warmup: q ? 5 : 10 }, metric: 'p50_us' },
    { id: 'W5', workload: 'W5', params: { k: q ? 200 : 1000, warmup }, metric: 'kib_per_child', noRatio: true },
    { id: 'W6', workload: 'W6', params: { n: q ? 100 : 500, bytes: 4096, warmup }, metric: 'time_us', per: 'n' },
    { id: 'W7', workload: 'W7', params: { n: q ? 100 : 1000, heapMiB: q ? 256 : 2048, warmup }, metric: 'time_us', per: 'n' },
  ];
}

/** The floor's command line for a case (see floor.c's usage). */
export function floorArgs(c) {
  const p = c.params;
  switch (c.workload) {
    case 'W1': return ['W1', p.n, p.warmup];
    case 'W2': return ['W2', p.n, p.inflight, p.warmup];
    case 'W3': return ['W3', p.n, p.k, p.warmup];
    case 'W4': return ['W4', p.n, p.warmup];
    case 'W5': return ['W5', p.k, p.warmup];
    case 'W6': return ['W6', p.n, p.bytes, p.warmup];
    case 'W7': return ['W7', p.n, p.heapMiB, p.warmup];
    default: throw new Error(`unknown workload ${c.workload}`);
  }
}
