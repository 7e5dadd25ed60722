// Stage keys are exactly right: a change reaches the stages it decides and nothing else.
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BUILTIN_RECIPES, knownVersions, loadRecipes, PROJECT_ROOT } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import type { BuildPlan } from '../src/plan.ts';
import { copyRecipes } from './helpers/recipes.ts';

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
        // nginx's configure arguments name the tree of an in-tree library (--with-openssl=../openssl-<version>):
        // its configure stage changes with the version even where it does not wait for the library's build
        // (and so does each twin's: nginx-debug configures with the same arguments plus its own)
        const named = base.configureArgs.some((a) => a.includes(`../${c.topdir}`)) ? base.stages.filter((s) => s.kind === 'configure').map((s) => s.id) : [];
        expect(new Set(changedIds(base, plan))).toEqual(withDependents(base, [...own, ...named]));
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


describe('stage keys: what decides smoke, verify and builders', () => {
  it('a new pinned VM kernel changes the smoke key only', () => {
    const dir = copyRecipes('nf-keys-');
    const a = resolvePlan(loadRecipes(dir), 'ktls');
    const f = path.join(dir, 'vm', 'kernel.json');
    const j = JSON.parse(readFileSync(f, 'utf8'));
    j.sha256 = 'f'.repeat(64); // another kernel package
    writeFileSync(f, JSON.stringify(j, null, 2));
    const b = resolvePlan(loadRecipes(dir), 'ktls');
    expect(changedIds(a, b)).toEqual(['smoke']);
  });

  it('a verify expectation in a recipe changes verify (and the artifacts after it), not the build', () => {
    const dir = copyRecipes('nf-keys-');
    const a = resolvePlan(loadRecipes(dir), 'ktls');
    const f = path.join(dir, 'components', 'zlib-ng.json');
    const j = JSON.parse(readFileSync(f, 'utf8'));
    j.verify.binaryContains = 'zlib-ng 2';
    writeFileSync(f, JSON.stringify(j, null, 2));
    const b = resolvePlan(loadRecipes(dir), 'ktls');
    expect(changedIds(a, b)).toEqual(['verify', 'artifacts']);
  });

  it('a library recipe\'s build data changes that library and nginx, not the others', () => {
    const dir = copyRecipes('nf-keys-');
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

  it('the code of a stage kind is part of its key: every file of its implementation module\'s import closure', () => {
    const plan = resolvePlan(loadRecipes(), 'ktls', { tests: {} });
    const code = (id: string) => plan.stages.find((s) => s.id === id)!.keyInputs.code;
    const lib = code('library:openssl');
    expect(lib['stages/library.ts']).toBe(createHash('sha256').update(readFileSync(path.join(PROJECT_ROOT, 'src/stages/library.ts'))).digest('hex'));
    // the implementation module itself, what it imports, and what that imports (the env, the plan)
    for (const f of ['stages/kinds/library.ts', 'stages/kinds/common.ts', 'pipeline/env.ts', 'plan.ts', 'errors.ts']) expect(Object.keys(lib)).toContain(f);
    // reached only through imports: the shipped nginx.conf the smoke test serves, verify's directive table
    expect(Object.keys(code('smoke'))).toContain('conf/nginx.ts');
    expect(Object.keys(code('smoke'))).toContain('smoke/vm/initramfs.ts');
    expect(Object.keys(code('verify'))).toContain('nginxconf.ts');
    expect(Object.keys(code('test'))).toContain('nginxtests/run.ts');
    // a library never depends on the smoke test's code, nor on packaging
    expect(Object.keys(lib).filter((f) => f.startsWith('smoke/') || f.startsWith('package/'))).toEqual([]);
    // fetch's output is fixed by the pinned hash: its code does not feed the key
    expect(code('fetch:nginx')).toEqual({});
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
    expect(r.stdout).toContain('library_openssl --> compile_nginx');
    expect(r.stdout).toContain('library_zlib_ng --> configure_nginx');
  });
});

describe('stage keys: the test stage (build --test)', () => {
  const recipes = loadRecipes();
  const ids = (p: BuildPlan) => p.stages.map((s) => s.id);

  it('the plan has the stage test only when asked, after the install, and the other keys do not change', () => {
    const without = resolvePlan(recipes, 'ktls', { toolchain: { cc: 'gcc 12' } });
    const withTest = resolvePlan(recipes, 'ktls', { toolchain: { cc: 'gcc 12' }, tests: {} });
    expect(ids(without)).not.toContain('test');
    expect(ids(withTest)).toContain('test');
    const t = withTest.stages.find((s) => s.id === 'test')!;
    expect(t.kind).toBe('test');
    expect(t.deps).toEqual(['install:nginx']);
    for (const s of without.stages) expect(withTest.stages.find((x) => x.id === s.id)!.key, s.id).toBe(s.key);
    // the suite's pin is in the key, and no sanitizer environment for the ktls binary
    const inputs = t.keyInputs.inputs as { suite: { commit: string; treeSha256: string }; files: string[]; env: Record<string, string> };
    expect(inputs.suite.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(inputs.suite.treeSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(inputs.files).toEqual([]);
    expect(inputs.env).toEqual({});
    expect(Object.keys(t.keyInputs.code)).toContain('stages/kinds/test.ts');
    expect(Object.keys(t.keyInputs.code)).toContain('nginxtests/run.ts');
  });

  it('the file selection changes the test key only (order and duplicates do not)', () => {
    const all = resolvePlan(recipes, 'ktls', { tests: {} });
    const some = resolvePlan(recipes, 'ktls', { tests: { files: ['ssl*.t', 'h2*.t'] } });
    const same = resolvePlan(recipes, 'ktls', { tests: { files: ['h2*.t', 'ssl*.t', './h2*.t'] } });
    expect(changedIds(all, some)).toEqual(['test']);
    expect(changedIds(some, same)).toEqual([]);
  });

  // the pinned suite is also the smoke test's HTTP/3 client (Test::Nginx::HTTP3): its smoke key too
  it('a new suite pin changes the test key and the smoke key only', () => {
    const dir = copyRecipes('nf-keys-');
    const a = resolvePlan(loadRecipes(dir), 'ktls', { tests: {} });
    const f = path.join(dir, 'testsuites', 'nginx-tests.json');
    const j = JSON.parse(readFileSync(f, 'utf8'));
    j.artifact.treeSha256 = 'e'.repeat(64);
    writeFileSync(f, JSON.stringify(j, null, 2));
    const b = resolvePlan(loadRecipes(dir), 'ktls', { tests: {} });
    expect(changedIds(a, b).sort()).toEqual(['smoke', 'test']);
    j.commit = 'a'.repeat(40);
    j.artifact.topdir = `nginx-tests-${j.commit}`;
    writeFileSync(f, JSON.stringify(j, null, 2));
    const c = resolvePlan(loadRecipes(dir), 'ktls', { tests: {} });
    expect(changedIds(b, c).sort()).toEqual(['smoke', 'test']);
  });

  it('a sanitizer profile runs the suite with sanitizer options that make findings fatal, and builds without jemalloc', () => {
    const asan = resolvePlan(recipes, 'ktls-asan', { tests: {} });
    const env = (asan.stages.find((s) => s.id === 'test')!.keyInputs.inputs as { env: Record<string, string> }).env;
    expect(env.ASAN_OPTIONS).toContain('detect_leaks=0');
    expect(env.ASAN_OPTIONS).toContain('abort_on_error=1');
    expect(env.UBSAN_OPTIONS).toContain('halt_on_error=1');
    expect(asan.components.map((c) => c.name)).not.toContain('jemalloc');
    expect(asan.configureArgs.find((a) => a.startsWith('--with-cc-opt='))).toContain('-fsanitize=address,undefined');
    expect(asan.configureArgs.join(' ')).not.toContain('jemalloc');
    // the libraries it shares with ktls are the same cache entries
    const ktls = resolvePlan(recipes, 'ktls', { tests: {} });
    for (const lib of ['library:openssl', 'library:pcre2', 'library:zlib-ng']) {
      expect(asan.stages.find((s) => s.id === lib)!.key, lib).toBe(ktls.stages.find((s) => s.id === lib)!.key);
    }
  });

  it('a profile compiled with -fsanitize= must say "sanitizers": true (and the reverse)', () => {
    const dir = copyRecipes('nf-keys-');
    const f = path.join(dir, 'profiles', 'ktls.json');
    const original = readFileSync(f, 'utf8');
    const j = JSON.parse(original);
    j.nginx.ccOpt.push('-fsanitize=address');
    writeFileSync(f, JSON.stringify(j, null, 2));
    expect(() => resolvePlan(loadRecipes(dir), 'ktls')).toThrow(/ktls\.json: sanitizers: nginx is compiled with -fsanitize=address: set "sanitizers": true/);
    // ktls-asan extends ktls: put ktls back before taking ktls-asan's own -fsanitize= options away
    writeFileSync(f, original);
    const g = path.join(dir, 'profiles', 'ktls-asan.json');
    const k = JSON.parse(readFileSync(g, 'utf8'));
    k.nginx.ccOpt.prepend = k.nginx.ccOpt.prepend.filter((o: string) => !o.startsWith('-fsanitize'));
    delete k.nginx.ldOpt;
    writeFileSync(g, JSON.stringify(k, null, 2));
    expect(() => resolvePlan(loadRecipes(dir), 'ktls-asan')).toThrow(/sanitizers: is true but nginx.ccOpt\/ldOpt have no -fsanitize= option/);
  });

  it('--test-files with a directory is a usage error', () => {
    expect(() => resolvePlan(recipes, 'ktls', { tests: { files: ['t/ssl*.t'] } })).toThrow(/--test-files .*no directories/);
  });
});
