// Runs a fixture script from dist/ in a fresh Node process and returns its JSON report.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface FixtureReport<T = unknown> {
  result?: { value: T; zombies: number; childrenBefore: number };
  error?: string;
  logs: string[];
  warnings: string[];
  stderr: string;
}

export function runFixture<T = unknown>(script: string, args: string[], env: Record<string, string> = {}): Promise<FixtureReport<T>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'dist', 'tests', 'fixtures', script), ...args], {
      env: { ...process.env, ...env }, timeout: 60000, maxBuffer: 64 << 20,
    }, (err, stdout, stderr) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve({ ...(JSON.parse(last) as FixtureReport<T>), stderr });
      } catch {
        reject(new Error(`fixture ${script} ${args.join(' ')} printed no report (${err?.message ?? 'exit 0'}):\n${stdout}\n${stderr}`));
      }
    });
  });
}
