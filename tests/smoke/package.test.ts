import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';

describe('package', () => {
  it('is the ESM package childwatch for Node >= 20', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(pkg.name).toBe('childwatch');
    expect(pkg.type).toBe('module');
    expect(pkg.engines.node).toBe('>=20');
  });
});
