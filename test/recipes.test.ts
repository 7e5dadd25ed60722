import { mkdtempSync, cpSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BUILTIN_RECIPES, loadRecipes, PROJECT_ROOT } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { RecipeError, UsageError } from '../src/errors.ts';

const cli = (args: string[], env: Record<string, string> = {}) =>
  execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), ...args], { reject: false, env, cwd: PROJECT_ROOT });

function copyRecipes(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nf-recipes-'));
  cpSync(BUILTIN_RECIPES, path.join(dir, 'recipes'), { recursive: true });
  return path.join(dir, 'recipes');
}
const editJson = (file: string, edit: (j: any) => void) => {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  edit(j);
  writeFileSync(file, JSON.stringify(j, null, 2));
};

describe('built-in recipes', () => {
  it('load and resolve the ktls profile into a plan with five pinned components', () => {
    const plan = resolvePlan(loadRecipes(), 'ktls');
    expect(plan.components.map((c) => c.name)).toEqual(['nginx', 'openssl', 'pcre2', 'zlib-ng', 'jemalloc']);
    for (const c of plan.components) expect(c.sha256).toMatch(/^[0-9a-f]{64}$/);
    const opt = plan.configureArgs.filter((a) => a.startsWith('--with-openssl-opt='));
    expect(opt).toHaveLength(1);
    expect(opt[0]).toContain('enable-ktls');
    expect(plan.configureArgs).toContain('--with-pcre-jit');
    // no absolute build paths: dependencies are referenced relative to the nginx tree
    expect(plan.configureArgs.filter((a) => /=\/(tmp|root|home)/.test(a))).toEqual([]);
  });

  it('userspace differs from ktls only by OpenSSL kTLS', () => {
    const r = loadRecipes();
    const k = resolvePlan(r, 'ktls');
    const u = resolvePlan(r, 'userspace');
    const diff = k.configureArgs.filter((a) => !u.configureArgs.includes(a));
    expect(diff).toHaveLength(1);
    expect(diff[0]).toMatch(/^--with-openssl-opt=.*enable-ktls/);
    expect(u.configureArgs.join(' ')).not.toContain('enable-ktls');
  });

  it('lists the Debian security patch set with a hash per patch', () => {
    const plan = resolvePlan(loadRecipes(), 'ktls');
    const cves = plan.patches.filter((p) => p.id.startsWith('debian-security/CVE-'));
    expect(cves.length).toBeGreaterThanOrEqual(15);
    for (const p of cves) expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(plan.patchSets[0]!.artifact.sha256).toBe('19fcf637728c01356f4c80909812b32bc38d6f10eabc1e7fa2bb2c6fbcf27474');
  });

  it('the plan is pure and stable: same inputs, same keys', () => {
    const a = resolvePlan(loadRecipes(), 'ktls', { toolchain: { cc: 'x' } });
    const b = resolvePlan(loadRecipes(), 'ktls', { toolchain: { cc: 'x' } });
    expect(a.stages).toEqual(b.stages);
    expect(a.planHash).toBe(b.planHash);
  });
});

describe('stage keys', () => {
  it('a changed nginx configure flag changes only nginx stages and what follows', () => {
    const dir = copyRecipes();
    const base = resolvePlan(loadRecipes(dir), 'ktls');
    editJson(path.join(dir, 'profiles/ktls.json'), (j) => j.nginx.modules.push('--with-http_sub_module'));
    const changed = resolvePlan(loadRecipes(dir), 'ktls');
    const diff = base.stages.filter((s, i) => changed.stages[i]!.key !== s.key).map((s) => s.id);
    expect(diff).toEqual(['configure:nginx', 'compile:nginx', 'install:nginx', 'verify', 'smoke', 'package']);
  });

  it('a changed OpenSSL option rebuilds OpenSSL and nginx but not the other dependencies', () => {
    const dir = copyRecipes();
    const base = resolvePlan(loadRecipes(dir), 'ktls');
    editJson(path.join(dir, 'profiles/ktls.json'), (j) => j.components.openssl.options.push('no-engine'));
    const changed = resolvePlan(loadRecipes(dir), 'ktls');
    const diff = base.stages.filter((s, i) => changed.stages[i]!.key !== s.key).map((s) => s.id);
    expect(diff).toContain('build:openssl');
    expect(diff).toContain('configure:nginx');
    expect(diff).not.toContain('build:pcre2');
    expect(diff).not.toContain('build:zlib-ng');
  });
});

describe('validation', () => {
  it('reports a 63-character sha256 and an unknown field as two lines naming file and field, exit 2', async () => {
    const dir = copyRecipes();
    editJson(path.join(dir, 'components/openssl.json'), (j) => {
      j.versions['3.5.7'].artifacts[0].sha256 = 'a'.repeat(63);
      j.versions['3.5.7'].artifacts[0].mirrorz = ['x'];
    });
    const r = await cli(['plan', '--profile', 'ktls', '--recipes', dir]);
    expect(r.exitCode).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l.includes('openssl.json:'));
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => /versions\["3\.5\.7"\]\.artifacts\[0\]\.sha256: must be a sha256/.test(l))).toBe(true);
    expect(lines.some((l) => /versions\["3\.5\.7"\]\.artifacts\[0\]\.mirrorz: unknown field "mirrorz"/.test(l))).toBe(true);
  });

  it('reports every problem at once across files', () => {
    const dir = copyRecipes();
    editJson(path.join(dir, 'components/pcre2.json'), (j) => (j.homepage = 'not a url'));
    editJson(path.join(dir, 'profiles/ktls.json'), (j) => (j.nginx.prefix = 'relative'));
    try {
      loadRecipes(dir);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RecipeError);
      const files = (e as RecipeError).problems.map((p) => `${path.basename(p.file)}:${p.path}`);
      expect(files).toEqual(expect.arrayContaining(['pcre2.json:homepage', 'ktls.json:nginx.prefix']));
    }
  });

  it('cross-field: OpenSSL older than 3.0 cannot do kTLS; nginx older than 1.21.4 has no SSL_sendfile', () => {
    const dir = copyRecipes();
    editJson(path.join(dir, 'components/openssl.json'), (j) => (j.versions['1.1.1'] = j.versions['3.5.7']));
    editJson(path.join(dir, 'components/nginx.json'), (j) => (j.versions['1.20.2'] = { artifacts: j.versions['1.26.3'].artifacts }));
    editJson(path.join(dir, 'profiles/ktls.json'), (j) => {
      j.components.openssl.version = '1.1.1';
      j.components.nginx.version = '1.20.2';
    });
    try {
      resolvePlan(loadRecipes(dir), 'ktls');
      expect.unreachable();
    } catch (e) {
      const msgs = (e as RecipeError).problems.map((p) => `${p.path}: ${p.message}`);
      expect(msgs.some((m) => m.startsWith('components.openssl.version: OpenSSL 1.1.1 cannot do kernel TLS'))).toBe(true);
      expect(msgs.some((m) => m.startsWith('components.nginx.version: nginx 1.20.2 has no SSL_sendfile'))).toBe(true);
    }
  });

  it('--set picks another catalog version; an unknown one lists the known ones', async () => {
    const plan = resolvePlan(loadRecipes(), 'ktls', { set: ['openssl=3.5.9'] });
    expect(plan.components.find((c) => c.name === 'openssl')!.version).toBe('3.5.9');
    expect(() => resolvePlan(loadRecipes(), 'ktls', { set: ['openssl=9.9.9'] })).toThrow(UsageError);
    const r = await cli(['plan', '--set', 'openssl=9.9.9']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('known: 3.5.7, 3.5.9, 3.6.5');
  });

  it('a local patch without a header is rejected', () => {
    const dir = copyRecipes();
    const pdir = path.join(path.dirname(dir), 'patches/nginx/1.26.x');
    mkdirSync(pdir, { recursive: true });
    writeFileSync(path.join(pdir, '0001-x.patch'), '--- a/README\n+++ b/README\n@@ -1 +1 @@\n-a\n+b\n');
    expect(() => resolvePlan(loadRecipes(dir), 'ktls', { patchesDir: path.dirname(path.dirname(pdir)) })).toThrow(/needs a header/);
  });
});

describe('plan command', () => {
  it('--json prints the documented fields', async () => {
    const r = await cli(['plan', '--profile', 'ktls', '--json']);
    expect(r.exitCode).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['profile', 'components', 'configureArgs', 'patches', 'stages']));
    expect(j.components).toHaveLength(5);
    for (const s of j.stages) expect(s.key).toMatch(/^[0-9a-f]{64}$/);
    for (const p of j.patches) expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the committed JSON Schemas are generated from the zod source', async () => {
    const r = await cli(['schema']);
    const generated = JSON.parse(r.stdout);
    for (const name of ['component.schema.json', 'profile.schema.json', 'testsuite.schema.json']) {
      expect(JSON.parse(readFileSync(path.join(BUILTIN_RECIPES, 'schema', name), 'utf8'))).toEqual(generated[name]);
    }
  });
});

describe('--prefix', () => {
  it('changes the configure prefix and, with it, the nginx stage keys', () => {
    const a = resolvePlan(loadRecipes(), 'ktls');
    const b = resolvePlan(loadRecipes(), 'ktls', { prefix: '/opt/nginx' });
    expect(b.configureArgs).toContain('--prefix=/opt/nginx');
    const changed = a.stages.filter((s, i) => b.stages[i]!.key !== s.key).map((s) => s.id);
    expect(changed).toEqual(['configure:nginx', 'compile:nginx', 'install:nginx', 'verify', 'smoke', 'package']);
  });
});

describe('test suite recipes (recipes/testsuites/)', () => {
  it('the built-in nginx-tests recipe pins the snapshot commit by its tree hash', async () => {
    const { loadTestSuite } = await import('../src/nginxtests/run.ts');
    const { recipe } = loadTestSuite();
    expect(recipe.commit).toBe('76bb761cdcaeb6cb024d605c2ef91bf8d8a602d7');
    expect(recipe.artifact.treeSha256).toBe('497cbb0a74e904fb117fb23bd5c868eaf632741535194dc60a0f4651791913be');
    expect(recipe.artifact.sha256).toBeUndefined();
    expect(recipe.artifact.urls).toEqual([`https://github.com/nginx/nginx-tests/archive/${recipe.commit}.tar.gz`]);
    expect(recipe.artifact.file).toBe(`nginx-tests-${recipe.commit}.tar.gz`);
  });

  it('a broken test suite recipe: every problem as file: field: problem, exit 2', async () => {
    const { loadTestSuite } = await import('../src/nginxtests/run.ts');
    const dir = copyRecipes();
    editJson(path.join(dir, 'testsuites', 'nginx-tests.json'), (j) => {
      delete j.artifact.treeSha256;
      j.commit = 'abc';
    });
    const e = (() => {
      try {
        loadTestSuite(dir);
      } catch (x) {
        return x as RecipeError;
      }
    })()!;
    expect(e).toBeInstanceOf(RecipeError);
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/testsuites\/nginx-tests\.json: commit: must be a full git commit id/);
    expect(e.message).toMatch(/testsuites\/nginx-tests\.json: artifact: needs "sha256" \(the archive\) or "treeSha256"/);
  });
});
