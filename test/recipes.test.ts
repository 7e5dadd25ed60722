import { mkdtempSync, cpSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BUILTIN_RECIPES, loadRecipes, PROJECT_ROOT } from '../src/recipes/load.ts';
import { fillConsume } from '../src/recipes/consume.ts';
import { installPaths, resolvePlan } from '../src/recipes/resolve.ts';
import { TEMP_PATHS, tempPathDirectives } from '../src/nginxconf.ts';
import { RecipeError, UsageError } from '../src/errors.ts';
import { copyCheckout, copyRecipes, editJson } from './helpers/recipes.ts';

const cli = (args: string[], env: Record<string, string> = {}) =>
  execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), ...args], { reject: false, env, cwd: PROJECT_ROOT });


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

  it('ktls: a production nginx without --with-debug and its nginx-debug twin, sharing every dependency stage', () => {
    const plan = resolvePlan(loadRecipes(), 'ktls');
    expect(plan.configureArgs).not.toContain('--with-debug');
    expect(plan.variants).toHaveLength(1);
    const v = plan.variants[0]!;
    expect(v).toMatchObject({ name: 'nginx-debug', sbin: '/usr/sbin/nginx-debug', flags: ['--with-debug'], debug: true });
    // the same argv with --with-debug after the profile's modules, nothing else
    expect(v.configureArgs.filter((a) => !plan.configureArgs.includes(a))).toEqual(['--with-debug']);
    expect(v.configureArgs.filter((a) => a !== '--with-debug')).toEqual(plan.configureArgs);
    const st = (id: string) => plan.stages.find((s) => s.id === id)!;
    expect(st('configure:nginx-debug').deps).toEqual(st('configure:nginx').deps);
    expect(st('compile:nginx-debug').deps).toEqual(['configure:nginx-debug', ...st('compile:nginx').deps.slice(1)]);
    expect(st('install:nginx-debug')).toMatchObject({ variant: 'nginx-debug', component: 'nginx', deps: ['compile:nginx-debug'] });
    expect(st('configure:nginx').variant).toBeUndefined();
    // one library build each, whatever the number of binaries
    expect(plan.stages.filter((s) => s.kind === 'library')).toHaveLength(4);
    for (const id of ['verify', 'smoke', 'artifacts']) expect(st(id).deps).toEqual(expect.arrayContaining(['install:nginx', 'install:nginx-debug']));
    // the test suite runs on the production binary
    expect(resolvePlan(loadRecipes(), 'ktls', { tests: {} }).stages.find((s) => s.id === 'test')!.deps).toEqual(['install:nginx']);
  });

  it('a variant named like the server, or repeating a production flag, is a recipe error naming the field', () => {
    const dir = copyRecipes('nf-recipes-');
    editJson(path.join(dir, 'profiles/ktls.json'), (j) => {
      j.nginx.variants.push({ name: 'nginx', description: 'x', modules: ['--with-compat'] });
    });
    try {
      resolvePlan(loadRecipes(dir), 'ktls');
      expect.unreachable();
    } catch (e) {
      const msgs = (e as RecipeError).problems.map((p) => `${p.path}: ${p.message}`);
      expect(msgs).toContainEqual(expect.stringMatching(/^nginx\.variants\[1\]\.name: "nginx" is taken/));
      expect(msgs).toContainEqual(expect.stringMatching(/^nginx\.variants\[1\]\.modules\[0\]: --with-compat is already in nginx\.modules/));
    }
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
    const cves = plan.patches.filter((p) => p.id.startsWith('nginx-debian-security/CVE-'));
    expect(cves.length).toBeGreaterThanOrEqual(15);
    for (const p of cves) expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(plan.patchSets[0]!.artifact.sha256).toBe('860b84ea2e0b394ef2124ce118f9479eea7e63d9a6c6991e5b965e7c21a4a407');
  });

  it('pins the Debian security series of nginx (deb13u9, 21 patches) and OpenSSL (deb13u2), each patch with the CVEs it resolves', () => {
    const plan = resolvePlan(loadRecipes(), 'ktls');
    const nginx = plan.patches.filter((p) => p.component === 'nginx' && p.origin.kind === 'patchset');
    const openssl = plan.patches.filter((p) => p.component === 'openssl' && p.origin.kind === 'patchset');
    expect(nginx).toHaveLength(21);
    expect(openssl).toHaveLength(16);
    const cvesOf = (list: typeof nginx) => new Set(list.flatMap((p) => p.cves));
    // named by the patch headers (Bug-Debian-Security) and the changelog, not by the file names
    expect(nginx.find((p) => p.id.endsWith('/Upstream-limit-header-length-for-HTTP-2-and-gRPC.patch'))!.cves).toEqual(['CVE-2026-42055']);
    expect(nginx.find((p) => p.id.endsWith('/Charset-fixed-another-rare-buffer-overread-in-recode.patch'))!.cves).toEqual(['CVE-2026-48142']);
    for (const c of ['CVE-2026-56434', 'CVE-2026-60005', 'CVE-2026-42533']) expect(cvesOf(nginx).has(c)).toBe(true);
    expect([...cvesOf(openssl)].sort()).toEqual(
      ['CVE-2026-18798', 'CVE-2026-63072', 'CVE-2026-63076', 'CVE-2026-14457', 'CVE-2026-54874', 'CVE-2026-63073', 'CVE-2026-63074', 'CVE-2026-63075', 'CVE-2026-75803', 'CVE-2026-14456'].sort(),
    );
    const sets = Object.fromEntries(plan.patchSets.map((s) => [s.name, s.artifact.sha256]));
    expect(sets).toEqual({
      'nginx-debian-security': '860b84ea2e0b394ef2124ce118f9479eea7e63d9a6c6991e5b965e7c21a4a407',
      'openssl-debian-security': '593a47654ead460a3b609503733f80bef552ff0802799d3b47784faacc50809f',
    });
    // the userspace profile carries the same OpenSSL fixes
    const u = resolvePlan(loadRecipes(), 'userspace');
    expect(u.patches.filter((p) => p.component === 'openssl').map((p) => p.sha256)).toEqual(openssl.map((p) => p.sha256));
  });

  it('every left-out patch of a pinned series says why; OpenSSL is signature-checked against a pinned key', () => {
    const r = loadRecipes();
    const ssl = r.components.get('openssl')!.recipe.versions['3.5.7']!;
    const excluded = ssl.patchSets[0]!.excluded;
    expect(excluded.map((x) => x.file)).toEqual(expect.arrayContaining(['debian-targets.patch', 'man-section.patch', 'no-symbolic.patch', 'pic.patch']));
    for (const x of excluded) expect(x.reason.length).toBeGreaterThan(30);
    expect(ssl.patchSets[0]!.patches.length + excluded.length).toBe(23);
    expect(ssl.artifacts[0]!.signature).toMatchObject({ keyring: 'openssl.asc', fingerprints: ['BA5473A2B0587B07FB27CF2D216094DFD0CB81EF'] });
  });

  it('the plan is pure and stable: same inputs, same keys', () => {
    const a = resolvePlan(loadRecipes(), 'ktls', { toolchain: { cc: 'x' } });
    const b = resolvePlan(loadRecipes(), 'ktls', { toolchain: { cc: 'x' } });
    expect(a.stages).toEqual(b.stages);
    expect(a.planHash).toBe(b.planHash);
  });

  it('the plan hash does not depend on where the checkout is: two copies in two directories give the same plan hash', () => {
    const one = copyCheckout('nf-checkout-a-');
    const two = copyCheckout('nf-checkout-b-');
    const plan = (c: { recipes: string; patches: string }) => resolvePlan(loadRecipes(c.recipes), 'ktls', { toolchain: { cc: 'x' }, patchesDir: c.patches });
    const a = plan(one);
    const b = plan(two);
    // the project's own patches are part of the plan (their paths differ between the checkouts)
    expect(a.patches.some((p) => p.origin.kind === 'local')).toBe(true);
    expect(a.stages.map((s) => s.key)).toEqual(b.stages.map((s) => s.key));
    expect(a.planHash).toBe(b.planHash);
    expect(a.planHash).toBe(plan({ recipes: BUILTIN_RECIPES, patches: path.join(PROJECT_ROOT, 'patches') }).planHash);
    // and a patch's content still decides it
    const local = a.patches.find((p) => p.origin.kind === 'local')!;
    const file = path.join(path.dirname(two.patches), local.id);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n$/, '\n\n'));
    expect(plan(two).planHash).not.toBe(a.planHash);
  });
});

describe('stage keys', () => {
  it('a changed nginx configure flag changes only nginx stages and what follows', () => {
    const dir = copyRecipes('nf-recipes-');
    const base = resolvePlan(loadRecipes(dir), 'ktls');
    editJson(path.join(dir, 'profiles/ktls.json'), (j) => j.nginx.modules.push('--with-http_sub_module'));
    const changed = resolvePlan(loadRecipes(dir), 'ktls');
    const diff = base.stages.filter((s, i) => changed.stages[i]!.key !== s.key).map((s) => s.id);
    // the twin (nginx-debug) is configured with the production flags plus its own: it changes too
    expect(diff).toEqual(['configure:nginx', 'compile:nginx', 'install:nginx', 'configure:nginx-debug', 'compile:nginx-debug', 'install:nginx-debug', 'verify', 'smoke', 'artifacts']);
  });

  it("a twin's own flags change only the twin's stages and what checks or ships it", () => {
    const dir = copyRecipes('nf-recipes-');
    const base = resolvePlan(loadRecipes(dir), 'ktls');
    editJson(path.join(dir, 'profiles/ktls.json'), (j) => j.nginx.variants[0].modules.push('--with-http_perl_module'));
    const changed = resolvePlan(loadRecipes(dir), 'ktls');
    const diff = base.stages.filter((s, i) => changed.stages[i]!.key !== s.key).map((s) => s.id);
    expect(diff).toEqual(['configure:nginx-debug', 'compile:nginx-debug', 'install:nginx-debug', 'verify', 'smoke', 'artifacts']);
  });

  it('a changed OpenSSL option rebuilds OpenSSL and nginx but not the other dependencies', () => {
    const dir = copyRecipes('nf-recipes-');
    const base = resolvePlan(loadRecipes(dir), 'ktls');
    editJson(path.join(dir, 'profiles/ktls.json'), (j) => j.components.openssl.options.push('no-engine'));
    const changed = resolvePlan(loadRecipes(dir), 'ktls');
    const diff = base.stages.filter((s, i) => changed.stages[i]!.key !== s.key).map((s) => s.id);
    expect(diff).toContain('library:openssl');
    expect(diff).toContain('configure:nginx');
    expect(diff).not.toContain('library:pcre2');
    expect(diff).not.toContain('library:zlib-ng');
  });
});

describe('validation', () => {
  it('reports a 63-character sha256 and an unknown field as two lines naming file and field, exit 2', async () => {
    const dir = copyRecipes('nf-recipes-');
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

  it('rejects a malformed CVE id and a patch-set name used by two components', () => {
    const dir = copyRecipes('nf-recipes-');
    editJson(path.join(dir, 'components/openssl.json'), (j) => {
      j.versions['3.5.7'].patchSets[0].patches[0].cves = ['CVE-26-1'];
      j.versions['3.5.7'].patchSets[0].name = 'nginx-debian-security';
    });
    try {
      loadRecipes(dir);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RecipeError);
      const msgs = (e as RecipeError).problems.map((p) => `${path.basename(p.file)}: ${p.path}: ${p.message}`);
      expect(msgs).toContainEqual(expect.stringMatching(/^openssl\.json: versions\["3\.5\.7"\]\.patchSets\[0\]\.patches\[0\]\.cves\[0\]: must be a CVE id/));
    }
    editJson(path.join(dir, 'components/openssl.json'), (j) => (j.versions['3.5.7'].patchSets[0].patches[0].cves = []));
    try {
      loadRecipes(dir);
      expect.unreachable();
    } catch (e) {
      const msgs = (e as RecipeError).problems.map((p) => `${p.path}: ${p.message}`);
      expect(msgs.join('\n')).toMatch(/patchSets\[0\]\.name: "nginx-debian-security" is also a patch set of nginx/);
    }
  });

  it('reports every problem at once across files', () => {
    const dir = copyRecipes('nf-recipes-');
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
    const dir = copyRecipes('nf-recipes-');
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
    const dir = copyRecipes('nf-recipes-');
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
    expect(changed).toEqual(['configure:nginx', 'compile:nginx', 'install:nginx', 'configure:nginx-debug', 'compile:nginx-debug', 'install:nginx-debug', 'verify', 'smoke', 'artifacts']);
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
    const dir = copyRecipes('nf-recipes-');
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

describe('one table, one template filler (issue 20, item 3)', () => {
  it('the temp paths: configure options, nginx defaults below the prefix and the scratch directives come from TEMP_PATHS', () => {
    const i = installPaths('/opt/ng', {});
    expect(i.temp).toEqual({
      client_body_temp_path: '/opt/ng/client_body_temp',
      proxy_temp_path: '/opt/ng/proxy_temp',
      fastcgi_temp_path: '/opt/ng/fastcgi_temp',
      uwsgi_temp_path: '/opt/ng/uwsgi_temp',
      scgi_temp_path: '/opt/ng/scgi_temp',
    });
    expect(tempPathDirectives('/w', '')).toBe(Object.values(TEMP_PATHS).map((d) => `${d} /w/${d.replace(/_temp_path$/, '')};`).join('\n'));
    expect(tempPathDirectives('/w', '')).toContain('client_body_temp_path /w/client_body;');
  });

  it('fillConsume fills {dir} and {options} as nginx\'s configure arguments hold them', () => {
    expect(fillConsume('--with-openssl={dir} --with-openssl-opt={options}', { layout: 'openssl-3.5.7', options: ['enable-ktls', 'no-docs'] })).toBe('--with-openssl=../openssl-3.5.7 --with-openssl-opt=enable-ktls no-docs');
    const plan = resolvePlan(loadRecipes(), 'ktls');
    const openssl = plan.components.find((c) => c.name === 'openssl')!;
    for (const t of openssl.consume!.configureArgs) expect(plan.configureArgs).toContain(fillConsume(t, openssl));
  });
});
