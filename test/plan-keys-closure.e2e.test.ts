// Keys follow the code a stage really runs, proved on a scratch copy of the project: an edit of a
// file reached only through an import changes the keys of the kinds that reach it and no other,
// and the compiled CLI (lib/, as npm installs it) and tsx (a source checkout) agree.
// In the slow tier: compiling the copy with tsc takes ~30 s on these 2 cores, more than half the
// unit tier's budget. The in-process part (every file of each kind's import closure is in its
// key) stays in test/plan-keys.test.ts.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../src/recipes/load.ts';
import type { BuildPlan } from '../src/plan.ts';

describe('stage keys: the import closure, on a scratch copy', () => {
  it('an edit of a file reachable only through an import changes the keys of the kinds that reach it and no other (scratch copy, compiled CLI and tsx agree)', async () => {
    const copy = mkdtempSync(path.join(tmpdir(), 'nf-closure-'));
    for (const d of ['bin', 'src', 'recipes', 'patches', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(path.join(PROJECT_ROOT, d), path.join(copy, d), { recursive: true });
    symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    const keys = async (env: Record<string, string> = {}) => {
      const r = await execa('node', [path.join(copy, 'bin/nginx-forge.mjs'), 'plan', '--profile', 'ktls', '--json'], { reject: false, cwd: copy, env });
      expect(r.exitCode, r.stderr).toBe(0);
      return Object.fromEntries((JSON.parse(r.stdout) as BuildPlan).stages.map((s) => [s.id, s.key]));
    };
    // the compiled CLI (lib/, as npm installs it) and tsx (a source checkout) compute the same keys
    await execa(path.join(PROJECT_ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: copy });
    const compiled = await keys();
    expect(await keys({ NGINX_FORGE_TSX: '1' })).toEqual(compiled);
    // the shipped-configuration generator: imported by smoke/config.ts, named in no list
    const conf = path.join(copy, 'src/conf/nginx.ts');
    writeFileSync(conf, `${readFileSync(conf, 'utf8')}\n// an edit\n`);
    const edited = await keys({ NGINX_FORGE_TSX: '1' });
    const changed = Object.keys(compiled).filter((id) => compiled[id] !== edited[id]);
    expect(changed).toContain('smoke');
    // nothing that builds reaches the configuration generator
    for (const id of Object.keys(compiled).filter((i) => /^(fetch|extract|patch|library|configure|compile|install):/.test(i))) expect(changed, id).not.toContain(id);
    rmSync(copy, { recursive: true, force: true });
  }, 120_000);
});
