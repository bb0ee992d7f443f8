// docs/errors.md is executable (issue 7, part 4): this test parses its tables and
//  - checks that every public function, method and constructor of `childwatch` that takes a
//    parameter is listed (in the bad-input table or in "Accepted as is"), and that every listed
//    name exists (by the TypeScript compiler API over ts-bindings/index.ts, the same public
//    surface TypeDoc documents: no private, protected or @internal member);
//  - checks that each TypeError/RangeError message pattern names one of the parameters;
//  - walks every row in a fresh process (tests/fixtures/errors-walk.ts): the error class, the
//    message, and no side effect;
//  - proves the walk can fail, on control rows that are wrong on purpose.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { packageRoot } from '../../ts-bindings/core/loader.js';
import {
  CONTEXTS, ERROR_HEADER, LENIENT_HEADER, errorsMdPath, parseErrorsMd, type ErrorRow, type RowResult,
} from '../fixtures/errors-walk.js';

const root = packageRoot();
const md = readFileSync(errorsMdPath(), 'utf8');
const { rows, lenient } = parseErrorsMd(md);

function buildOptions(): ts.CompilerOptions {
  const configPath = join(root, 'tsconfig.build.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  return ts.parseJsonConfigFileContent(config.config, ts.sys, root, { noEmit: true }, configPath).options;
}

function isInternal(decl: ts.Node): boolean {
  return ts.getJSDocTags(decl).some((t) => t.tagName.text === 'internal');
}

/** key -> parameter names, for every public callable of `childwatch` with at least one. */
function publicCallables(): Map<string, string[]> {
  const entry = join(root, 'ts-bindings/index.ts');
  const program = ts.createProgram({ rootNames: [entry], options: buildOptions() });
  const checker = program.getTypeChecker();
  const moduleSym = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  const out = new Map<string, string[]>();
  const params = (decl: ts.SignatureDeclaration): string[] => decl.parameters.map((p) => p.name.getText());
  for (const exported of checker.getExportsOfModule(moduleSym)) {
    const sym = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const decls = sym.declarations ?? [];
    if (decls.length === 0 || decls.every(isInternal)) continue;
    if (sym.flags & ts.SymbolFlags.Function) {
      const p = params(decls[0] as ts.FunctionDeclaration);
      if (p.length > 0) out.set(exported.name, p);
      continue;
    }
    if (!(sym.flags & ts.SymbolFlags.Class)) continue;
    const ctor = checker.getTypeOfSymbol(sym).getConstructSignatures()
      .map((s) => s.getDeclaration()).find((d) => d !== undefined && ts.isConstructorDeclaration(d));
    if (ctor !== undefined && !isInternal(ctor) && !(ts.getCombinedModifierFlags(ctor) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected))) {
      const p = params(ctor);
      if (p.length > 0) out.set(`new ${exported.name}`, p);
    }
    for (const member of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(sym))) {
      if (!(member.flags & ts.SymbolFlags.Method)) continue;
      const mdecls = (member.declarations ?? []).filter((d): d is ts.MethodDeclaration => ts.isMethodDeclaration(d));
      if (mdecls.length === 0) continue;
      // Overloads: the longest signature names every parameter.
      const first = mdecls.reduce((a, b) => (b.parameters.length > a.parameters.length ? b : a));
      if (first.getSourceFile().fileName.includes('/node_modules/')) continue;
      if (mdecls.some(isInternal) || member.getJsDocTags(checker).some((t) => t.name === 'internal')) continue;
      if (ts.getCombinedModifierFlags(first) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
      if (first.name !== undefined && ts.isPrivateIdentifier(first.name)) continue;
      const p = params(first);
      if (p.length > 0) out.set(`${exported.name}#${member.name}`, p);
    }
  }
  return out;
}

/** The words a message uses for a parameter whose name is terse. */
const ALIASES: Record<string, string[]> = { cb: ['callback'], l: ['logger'], delaySeconds: ['delay'] };

function runWalk(mdPath?: string): Promise<{ results: RowResult[]; zombies: number; error?: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(root, 'dist/tests/fixtures/errors-walk.js'), ...(mdPath === undefined ? [] : [mdPath])],
      { timeout: 60000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop()!));
        } catch {
          reject(new Error(`errors-walk printed no report (${err?.message}):\n${stdout}\n${stderr}`));
        }
      });
  });
}

describe('docs/errors.md', () => {
  it('has both tables, well formed, with known situations', () => {
    expect(md).toContain(ERROR_HEADER);
    expect(md).toContain(LENIENT_HEADER);
    expect(rows.length).toBeGreaterThan(120);
    expect(lenient.length).toBeGreaterThan(5);
    for (const r of rows) expect({ line: r.line, context: (CONTEXTS as readonly string[]).includes(r.context) }).toEqual({ line: r.line, context: true });
  });

  const callables = publicCallables();

  it('lists every public function, method and constructor that takes a parameter', () => {
    expect(callables.size).toBeGreaterThan(80);
    expect([...callables.keys()]).toEqual(expect.arrayContaining([
      'createSubprocessExec', 'ThreadedChildWatcher#addChildHandler', 'SelectorEventLoop#addReader',
      'Process#sendSignal', 'new FastChildWatcher',
    ]));
    const listed = new Set([...rows.flatMap((r) => r.keys), ...lenient.flatMap((r) => r.keys)]);
    expect([...callables.keys()].filter((k) => !listed.has(k)).sort()).toEqual([]);
  });

  it('lists nothing that is not public API', () => {
    const names = new Set([...rows.flatMap((r) => r.keys), ...lenient.flatMap((r) => r.keys)]);
    // A listed name must be a public callable (zero-argument ones may appear for a situation).
    const zeroArg = new Set(['getEventLoop', 'getRunningLoop', 'SelectorEventLoop#runForever', 'SelectorEventLoop#close',
      'DefaultEventLoopPolicy#getEventLoop', 'Process#terminate', 'Process#kill', 'UnixSubprocessTransport#terminate',
      'UnixSubprocessTransport#kill', 'new WindowsSelectorEventLoopPolicy', 'new WindowsProactorEventLoopPolicy',
      'Process#killGroup']);
    expect([...names].filter((k) => !callables.has(k) && !zeroArg.has(k)).sort()).toEqual([]);
  });

  it('every TypeError and RangeError message pattern names a parameter of its function', () => {
    const unnamed: string[] = [];
    for (const r of rows) {
      if (r.errorClass !== 'TypeError' && r.errorClass !== 'RangeError') continue;
      for (const k of r.keys) {
        const names = (callables.get(k) ?? []).flatMap((p) => [p, ...(ALIASES[p] ?? [])]);
        if (!names.some((n) => r.pattern.includes(n))) unnamed.push(`${r.line} ${k}: /${r.pattern}/ (parameters ${names.join(', ')})`);
      }
    }
    expect(unnamed).toEqual([]);
  });

  describe('walked in a fresh process', () => {
    let report: { results: RowResult[]; zombies: number; error?: string };
    beforeAll(async () => {
      report = await runWalk();
    }, 60000);

    it('ran every row and left no zombie', () => {
      expect(report.error).toBeUndefined();
      expect(report.results.length).toBe(rows.reduce((n, r) => n + r.keys.length, 0));
      expect(report.zombies).toBe(0);
    });

    it.each(rows.map((r): [string, ErrorRow] => [`${r.line}: ${r.keys.join(', ')} ${r.args} ${r.context}`.trim(), r]))(
      'row %s', (_name: string, row: ErrorRow) => {
        const mine = report.results.filter((x) => x.line === row.line);
        expect(mine.map((x) => x.key)).toEqual(row.keys);
        for (const x of mine) expect({ key: x.key, got: x.got, problems: x.problems }).toEqual({ key: x.key, got: x.got, problems: [] });
      });
  });

  it('control: rows that are wrong on purpose are reported (no throw, side effect, class, message)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'childwatch-errors-'));
    const control = join(dir, 'control.md');
    writeFileSync(control, [
      ERROR_HEADER, '|---|---|---|---|',
      "| `setEventLoop` | `(loop)` | TypeError | `^x$` |",
      "| `spawnChild` | `('/bin/true')` | TypeError | `^x$` |",
      "| `setEventLoopPolicy` | `(5)` | RangeError | `^policy must be` |",
      "| `setEventLoopPolicy` | `(5)` | TypeError | `^no such message$` |",
      '',
    ].join('\n'));
    const r = await runWalk(control);
    const byLine = (line: number): string[] => r.results.find((x) => x.line === line)!.problems;
    expect(r.results.every((x) => !x.ok)).toBe(true);
    expect(byLine(3)).toEqual(expect.arrayContaining(['did not throw', expect.stringMatching(/^side effect: policyLoop/)]));
    expect(byLine(4)).toEqual(expect.arrayContaining(['did not throw', expect.stringMatching(/^side effect: children/)]));
    expect(byLine(5)).toEqual(['expected RangeError']);
    expect(byLine(6)).toEqual(['message does not match /^no such message$/']);
  }, 60000);
});
