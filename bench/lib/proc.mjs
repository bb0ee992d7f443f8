// /proc helpers shared by the Node workers and the driver (Linux only).
import { readdirSync, readFileSync } from 'node:fs';

/** Pids whose parent is `ppid` (alive or zombie), from /proc/<pid>/stat. */
export function childrenOf(ppid = process.pid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[1]) === ppid) out.push({ pid: Number(name), state: rest[0], comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
  }
  return out;
}

/** VmRSS (KiB) and thread count of this process, from /proc/self/status. */
export function selfStatus() {
  const text = readFileSync('/proc/self/status', 'latin1');
  const rss = /^VmRSS:\s+(\d+)/m.exec(text);
  const threads = /^Threads:\s+(\d+)/m.exec(text);
  return { rssKiB: rss ? Number(rss[1]) : -1, threads: threads ? Number(threads[1]) : -1 };
}

/** Number of open file descriptors of this process. */
export function openFds() {
  return readdirSync('/proc/self/fd').length - 1; // minus the one reading the directory
}
