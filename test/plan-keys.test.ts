// Stage keys are exactly right: a change reaches the stages it decides and nothing else.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BUILTIN_RECIPES, knownVersions, loadRecipes, PROJECT_ROOT } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import type { BuildPlan } from '../src/plan.ts';

/** A stage and everything that depends on it, transitively. */
function withDependents(plan: BuildPlan, ids: string[]): Set<string> {
  const out = new Set(ids);
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of plan.stages) {
      if (!out.has(s.id) && s.deps.some((d) => out.has(d))) {
        out.add(s.id);
        grew = true;
      }
    }
  }
  return out;
}
const changedIds = (a: BuildPlan, b: BuildPlan) => a.stages.filter((s) => b.stages.find((x) => x.id === s.id)!.key !== s.key).map((s) => s.id);

describe('stage keys: --set', () => {
  const recipes = loadRecipes();
  for (const profile of ['ktls', 'userspace']) {
    const base = resolvePlan(recipes, profile, { toolchain: { cc: 'gcc 12' } });
    for (const c of base.components) {
      it(`${profile}: --set ${c.name}=<another version> changes only ${c.name}'s stages and those after them`, () => {
        const other = knownVersions(recipes, c.name).find((v) => v !== c.version);
        expect(other, `the catalog has a second ${c.name} version`).toBeDefined();
        const plan = resolvePlan(recipes, profile, { toolchain: { cc: 'gcc 12' }, set: [`${c.name}=${other}`] });
        const own = base.stages.filter((s) => s.component === c.name && ['fetch', 'extract', 'patch', 'library'].includes(s.kind)).map((s) => s.id);
        expect(own.length).toBeGreaterThanOrEqual(3);
        expect(new Set(changedIds(base, plan))).toEqual(withDependents(base, own));
        // and concretely: no other component is fetched or built again
        for (const o of base.components.filter((x) => x.name !== c.name)) {
          for (const s of base.stages.filter((x) => x.component === o.name && x.kind !== 'configure' && x.kind !== 'compile' && x.kind !== 'install')) {
            expect(changedIds(base, plan)).not.toContain(s.id);
          }
        }
      });
    }
  }
});

function copyRecipes(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nf-keys-'));
  cpSync(BUILTIN_RECIPES, path.join(dir, 'recipes'), { recursive: true });
  return path.join(dir, 'recipes');
}

describe('stage keys: what decides smoke, verify and builders', () => {
  it('a new pinned VM kernel changes the smoke key only', () => {
    const dir = copyRecipes();
    const a = resolvePlan(loadRecipes(dir), 'ktls');
    const f = path.join(dir, 'vm', 'kernel.json');
    const j = JSON.parse(readFileSync(f, 'utf8'));
    j.sha256 = 'f'.repeat(64); // another kernel package
    writeFileSync(f, JSON.stringify(j, null, 2));
    const b = resolvePlan(loadRecipes(dir), 'ktls');
    expect(changedIds(a, b)).toEqual(['smoke']);
  });

  it('a verify expectation in a recipe changes verify (and the artifacts after it), not the build', () => {
    const dir = copyRecipes();
    const a = resolvePlan(loadRecipes(dir), 'ktls');
    const f = path.join(dir, 'components', 'zlib-ng.json');
    const j = JSON.parse(readFileSync(f, 'utf8'));
    j.verify.binaryContains = 'zlib-ng 2';
    writeFileSync(f, JSON.stringify(j, null, 2));
    const b = resolvePlan(loadRecipes(dir), 'ktls');
    expect(changedIds(a, b)).toEqual(['verify', 'artifacts']);
  });

  it('a library recipe\'s build data changes that library and nginx, not the others', () => {
    const dir = copyRecipes();
    const a = resolvePlan(loadRecipes(dir), 'ktls');
    const f = path.join(dir, 'components', 'jemalloc.json');
    const j = JSON.parse(readFileSync(f, 'utf8'));
    j.build.args.push('--disable-stats');
    writeFileSync(f, JSON.stringify(j, null, 2));
    const b = resolvePlan(loadRecipes(dir), 'ktls');
    const changed = changedIds(a, b);
    expect(changed[0]).toBe('library:jemalloc');
    expect(changed).toContain('configure:nginx');
    for (const other of ['library:openssl', 'library:pcre2', 'library:zlib-ng', 'fetch:jemalloc', 'extract:jemalloc', 'patch:jemalloc']) expect(changed).not.toContain(other);
  });

  it('the code of a stage kind is part of its key (hash of its source files, no hand-bumped version)', () => {
    const plan = resolvePlan(loadRecipes(), 'ktls');
    const lib = plan.stages.find((s) => s.id === 'library:openssl')!;
    const sha = createHash('sha256');
    sha.update('\0').update(readFileSync(path.join(PROJECT_ROOT, 'src/stages/library.ts'))).update('\0');
    expect(lib.keyInputs.code['stages/library.ts']).toBe(sha.digest('hex'));
    const smoke = plan.stages.find((s) => s.id === 'smoke')!;
    expect(Object.keys(smoke.keyInputs.code)).toEqual(['stages/smoke.ts', 'smoke']);
    // fetch's output is fixed by the pinned hash: its code does not feed the key
    expect(plan.stages.find((s) => s.id === 'fetch:nginx')!.keyInputs.code).toEqual({});
  });
});

describe('plan --explain-key and --graph', () => {
  const cli = (args: string[]) => execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), ...args], { reject: false, cwd: PROJECT_ROOT });

  it('--explain-key shows the inputs, code hashes and dependency keys of one stage', async () => {
    const r = await cli(['plan', '--profile', 'ktls', '--explain-key', 'library:zlib-ng', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.id).toBe('library:zlib-ng');
    expect(j.key).toMatch(/^[0-9a-f]{64}$/);
    expect(j.inputs.build.system).toBe('cmake');
    expect(Object.keys(j.code)).toContain('stages/library.ts');
    expect(Object.keys(j.deps)).toEqual(['patch:zlib-ng']);
  });

  it('--explain-key of an unknown stage is a usage error listing the stages', async () => {
    const r = await cli(['plan', '--profile', 'ktls', '--explain-key', 'build:zlib']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('library:zlib-ng');
  });

  it('--graph draws every stage and edge as Mermaid', async () => {
    const r = await cli(['plan', '--profile', 'ktls', '--graph']);
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = resolvePlan(loadRecipes(), 'ktls');
    expect(r.stdout.split('\n')[0]).toBe('flowchart LR');
    const edges = r.stdout.split('\n').filter((l) => l.includes('-->'));
    expect(edges).toHaveLength(plan.stages.reduce((n, s) => n + s.deps.length, 0));
    expect(r.stdout).toContain('library_openssl --> configure_nginx');
  });
});
