// What `npm pack` puts in the npm package (issue 24, item 6): the LICENSE file with the license
// package.json declares, and docs/ (README links docs/benchmarks.md). Read from npm's own dry run
// (--ignore-scripts: no `prepare` compile, nothing installed or written).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../src/recipes/load.ts';

const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));

describe('npm package', () => {
  it('packs LICENSE and docs/, and every docs/ file README links', async () => {
    const r = await execa('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PROJECT_ROOT, env: { npm_config_loglevel: 'silent' } });
    const files: string[] = JSON.parse(r.stdout)[0].files.map((f: { path: string }) => f.path);
    expect(files).toContain('LICENSE');
    expect(files).toContain('README.md');
    expect(files).toContain('package.json');
    const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    const linked = [...new Set([...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]!))];
    expect(linked).toContain('docs/benchmarks.md');
    for (const f of linked) expect(files, `README links ${f}`).toContain(f);
  }, 60_000);

  it("LICENSE is the license package.json declares, held by the SBOM's supplier", () => {
    expect(pkg.license).toBe('BSD-2-Clause');
    const text = readFileSync(path.join(PROJECT_ROOT, 'LICENSE'), 'utf8');
    expect(text.split('\n')[0]).toBe('BSD 2-Clause License');
    expect(text).toMatch(/^Copyright \(c\) \d{4}, nginx-forge contributors$/m);
    // the two conditions and the disclaimer of the SPDX BSD-2-Clause text, and no third clause
    expect(text).toContain('1. Redistributions of source code must retain the above copyright notice');
    expect(text).toContain('2. Redistributions in binary form must reproduce the above copyright notice');
    expect(text).not.toContain('3. ');
    expect(text).toContain('THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"');
  });
});
