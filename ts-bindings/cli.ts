#!/usr/bin/env node
// The `childwatch` command line.
//
//   childwatch run [--watcher pidfd|threaded|safe|fast|multiloop] [--json] -- CMD ARGS...
//   childwatch init [--group] [--wait-all] [--verbose] -- CMD ARGS...
//   childwatch tour
//
// `run` reports the child's exit like /usr/bin/time (from the same wait4 rusage); `init` is a
// minimal container init (subreaper, signal forwarding, reaps orphans); `tour` runs a fixed set
// of children under each of the five watchers and prints what happened and how long it took.
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  DEVNULL, FastChildWatcher, PIPE, ProcessLookupError, canUsePidfd, createSubprocessExec, getRunningLoop, run,
  setChildWatcher, type AbstractEventLoop, type ExitInfo, type Process,
} from './index.js';
import { WATCHER_NAMES, isWatcherName, makeWatcherByName, type WatcherName } from './watchers/by-name.js';


const SIGNAL_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(constants.signals).map(([name, n]) => [n, name]));

class UsageError extends Error {}

const USAGE = `usage:
  childwatch run [--watcher pidfd|threaded|safe|fast|multiloop] [--json] -- CMD [ARGS...]
  childwatch init [--group] [--wait-all] [--verbose] -- CMD [ARGS...]
  childwatch tour`;

/** Split `[options...] -- CMD ARGS...`; CMD may also come first without `--`. */
function splitCommand(argv: string[]): { flags: string[]; command: string[] } {
  const dd = argv.indexOf('--');
  if (dd >= 0) return { flags: argv.slice(0, dd), command: argv.slice(dd + 1) };
  const first = argv.findIndex((a) => !a.startsWith('-'));
  return first < 0 ? { flags: argv, command: [] } : { flags: argv.slice(0, first), command: argv.slice(first) };
}

/** The shell's convention: the exit code, or 128 + the signal that killed the child. */
function shellStatus(info: ExitInfo): number {
  if (info.signal !== null) return 128 + info.signal;
  return info.exitCode ?? info.returncode & 0xff;
}

function describeExit(info: ExitInfo, wallSeconds: number): string {
  const how = info.signal !== null
    ? `killed by signal ${info.signal} (${SIGNAL_NAMES[info.signal] ?? '?'})${info.coreDumped ? ', core dumped' : ''}`
    : info.statusKnown ? `exited with code ${info.exitCode ?? info.returncode}` : 'exit status unknown (reaped elsewhere)';
  const r = info.rusage;
  const cpu = r === null ? 'rusage unknown'
    : `user ${(r.userMicros / 1e6).toFixed(3)}s  system ${(r.systemMicros / 1e6).toFixed(3)}s  max RSS ${r.maxRssKiB} KiB`;
  return `childwatch: pid ${info.pid} ${how}\nchildwatch: ${cpu}  wall ${wallSeconds.toFixed(3)}s`;
}

async function cmdRun(argv: string[]): Promise<number> {
  const { flags, command } = splitCommand(argv);
  let watcherName: WatcherName = canUsePidfd() ? 'pidfd' : 'threaded';
  let json = false;
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i]!;
    if (f === '--json') json = true;
    else if (f === '--watcher' || f.startsWith('--watcher=')) {
      const v = f.includes('=') ? f.slice(f.indexOf('=') + 1) : flags[++i];
      if (!isWatcherName(v)) throw new UsageError(`unknown watcher '${v}'`);
      watcherName = v;
    } else throw new UsageError(`unknown option '${f}'`);
  }
  if (command.length === 0) throw new UsageError('run needs a command');
  const watcher = makeWatcherByName(watcherName);
  setChildWatcher(watcher);
  const started = process.hrtime.bigint();
  const info = await run(async () => {
    const loop = getRunningLoop();
    if (watcherName === 'multiloop') watcher.attachLoop(loop);
    // Installed before the spawn, so no signal can find us without a handler (and kill us,
    // orphaning the child): one that arrives first is passed on as soon as the child exists.
    const forward = new SignalForwarder(loop, ['SIGTERM', 'SIGHUP'], (proc, sig) => proc.sendSignal(sig));
    const proc = await createSubprocessExec(command[0]!, command.slice(1), { stdin: 'inherit', stdout: 'inherit', stderr: 'inherit' });
    forward.target(proc);
    await proc.wait();
    return proc.exitInfo!;
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  if (json) {
    process.stderr.write(`${JSON.stringify({ ...info, wallSeconds: wall, watcher: watcherName })}\n`);
  } else {
    process.stderr.write(`${describeExit(info, wall)}\n`);
  }
  return shellStatus(info);
}

/** This process's live and zombie children, from /proc. */
function childPids(): number[] {
  const out: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      for (const p of readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (p) out.push(Number(p));
    } catch { /* thread gone */ }
  }
  return out;
}

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/**
 * Passes signals on to the child. Created before the spawn: signals that arrive before the child
 * exists are held and sent once it does; after its exit they are dropped.
 */
class SignalForwarder {
  private proc: Process | null = null;
  private readonly held: NodeJS.Signals[] = [];

  constructor(loop: AbstractEventLoop, signals: NodeJS.Signals[],
    private readonly send: (proc: Process, sig: NodeJS.Signals) => void) {
    for (const sig of signals) loop.addSignalHandler(sig, () => this.deliver(sig));
  }

  target(proc: Process): void {
    this.proc = proc;
    for (const sig of this.held.splice(0)) this.deliver(sig);
  }

  private deliver(sig: NodeJS.Signals): void {
    if (this.proc === null) {
      this.held.push(sig);
      return;
    }
    try {
      this.send(this.proc, sig);
    } catch (err) {
      if (!(err instanceof ProcessLookupError)) throw err; // exited meanwhile
    }
  }
}

async function cmdInit(argv: string[]): Promise<number> {
  const { flags, command } = splitCommand(argv);
  let group = false;
  let waitAll = false;
  let verbose = false;
  for (const f of flags) {
    if (f === '--group') group = true;
    else if (f === '--wait-all') waitAll = true;
    else if (f === '--verbose' || f === '-v') verbose = true;
    else throw new UsageError(`unknown option '${f}'`);
  }
  if (command.length === 0) throw new UsageError('init needs a command');
  const watcher = new FastChildWatcher({
    subreaper: true,
    onOrphanExit: (pid, returncode) => {
      if (verbose) process.stderr.write(`childwatch init: reaped orphan pid ${pid} (returncode ${returncode})\n`);
    },
  });
  setChildWatcher(watcher);
  const info = await run(async () => {
    const loop = getRunningLoop();
    const forward = new SignalForwarder(loop, FORWARDED, (proc, sig) => {
      if (group) proc.killGroup(sig);
      else proc.sendSignal(sig);
    });
    const proc = await createSubprocessExec(command[0]!, command.slice(1), {
      stdin: 'inherit', stdout: 'inherit', stderr: 'inherit', ...(group ? { processGroup: 0 } : {}),
    });
    forward.target(proc);
    await proc.wait();
    if (waitAll) {
      // Orphans are reparented to us (subreaper) and reaped by the Fast watcher as they exit.
      while (childPids().length > 0) await new Promise((r) => setTimeout(r, 20));
    }
    return proc.exitInfo!;
  });
  return shellStatus(info);
}

interface TourResult {
  watcher: string;
  codes: number[];
  signal: number;
  burst: number;
  burstMs: number;
  totalMs: number;
}

/** One watcher's part of the tour, in its own process (watchers change process-wide state). */
async function cmdTourOne(name: WatcherName): Promise<number> {
  const watcher = makeWatcherByName(name);
  setChildWatcher(watcher);
  const t0 = performance.now();
  const quiet = { stdin: DEVNULL, stdout: DEVNULL, stderr: DEVNULL } as const;
  const result = await run(async () => {
    if (name === 'multiloop') watcher.attachLoop(getRunningLoop());
    const codes: number[] = [];
    for (const c of [0, 1, 3, 255]) {
      codes.push(await (await createSubprocessExec('/bin/sh', ['-c', `exit ${c}`], quiet)).wait());
    }
    const sleeper = await createSubprocessExec('sleep', ['1000'], quiet);
    sleeper.kill();
    const signal = await sleeper.wait();
    const b0 = performance.now();
    const burst = await Promise.all(Array.from({ length: 200 }, async () => (await createSubprocessExec('true', [], quiet)).wait()));
    const burstMs = performance.now() - b0;
    return { codes, signal, burst: burst.filter((c) => c === 0).length, burstMs };
  });
  const out: TourResult = { watcher: watcher.constructor.name, ...result, totalMs: performance.now() - t0 };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  return 0;
}

async function cmdTour(): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  const rows: TourResult[] = [];
  process.stdout.write('childwatch tour: exit codes 0 1 3 255, SIGKILL, and a burst of 200 children under each watcher\n\n');
  for (const name of WATCHER_NAMES) {
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K  running ${name} (${rows.length + 1}/${WATCHER_NAMES.length})...`);
    const proc = await createSubprocessExec(process.execPath, [self, 'tour-one', name], { stdin: DEVNULL, stdout: PIPE, stderr: 'inherit' });
    const [out] = await proc.communicate();
    if (proc.returncode !== 0) throw new Error(`tour of ${name} failed with ${proc.returncode}`);
    rows.push(JSON.parse(out!.toString().trim().split('\n').pop()!) as TourResult);
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  const header = ['watcher', 'exit codes', 'SIGKILL', 'burst ok', 'burst ms', 'per exit us', 'total ms'];
  const table = rows.map((r) => [
    r.watcher, r.codes.join(' '), String(r.signal), `${r.burst}/200`, r.burstMs.toFixed(1),
    (r.burstMs * 1000 / 200).toFixed(0), r.totalMs.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  process.stdout.write(`${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const row of table) process.stdout.write(`${line(row)}\n`);
  const ok = rows.every((r) => r.codes.join() === '0,1,3,255' && r.signal === -9 && r.burst === 200);
  process.stdout.write(`\n${ok ? 'every exit reported once, with the right code' : 'SOME EXITS WERE WRONG'}\n`);
  return ok ? 0 : 1;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'run': return cmdRun(rest);
    case 'init': return cmdInit(rest);
    case 'tour': return cmdTour();
    case 'tour-one': return cmdTourOne(rest[0] as WatcherName);
    case '-h': case '--help': case undefined:
      process.stdout.write(`${USAGE}\n`);
      return cmd === undefined ? 2 : 0;
    default: throw new UsageError(`unknown command '${cmd}'`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`childwatch: ${err.message}\n${USAGE}\n`);
      process.exitCode = 2;
    } else {
      const e = err as { code?: string; message?: string };
      process.stderr.write(`childwatch: ${e.message ?? String(err)}\n`);
      process.exitCode = e.code === 'ENOENT' ? 127 : e.code === 'EACCES' ? 126 : 1;
    }
  });
}
