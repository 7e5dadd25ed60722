// Third-party modules are recipe data: the plan, the stage keys, nginx's configure arguments,
// the validation of a profile's module pins, and the smoke test's module proof.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecipeError } from '../src/errors.ts';
import { BUILTIN_PATCHES, BUILTIN_RECIPES, compareVersions, loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { moduleObjects, modules, modulesPath, type BuildPlan } from '../src/plan.ts';
import { renderConfig } from '../src/smoke/config.ts';
import { moduleProof } from '../src/smoke/verdict.ts';
import { smokeModules } from '../src/stages/smoke.ts';
import { minimalConfig } from '../src/stages/verify.ts';
import { parseSuites } from '../src/smoke/suites.ts';

function copyTree(): { recipes: string; patches: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'nf-modules-'));
  cpSync(BUILTIN_RECIPES, path.join(dir, 'recipes'), { recursive: true });
  cpSync(BUILTIN_PATCHES, path.join(dir, 'patches'), { recursive: true });
  return { recipes: path.join(dir, 'recipes'), patches: path.join(dir, 'patches') };
}
const editJson = (file: string, edit: (j: any) => void) => {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  edit(j);
  writeFileSync(file, JSON.stringify(j, null, 2));
};
const changed = (a: BuildPlan, b: BuildPlan) => a.stages.filter((s) => b.stages.find((x) => x.id === s.id)?.key !== s.key).map((s) => s.id);
const problemsOf = (f: () => unknown): string[] => {
  try {
    f();
  } catch (e) {
    if (e instanceof RecipeError) return e.problems.map((p) => `${path.basename(p.file)}: ${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error('expected a RecipeError');
};

describe('modules in the plan', () => {
  const tc = { toolchain: { cc: 'gcc 12' } };
  const plan = resolvePlan(loadRecipes(), 'ktls-brotli', tc);

  it('ktls-brotli: ngx_brotli as a dynamic module next to nginx, libbrotli a library stage', () => {
    const m = modules(plan);
    expect(m.map((x) => [x.name, x.version, x.module.link, x.layout])).toEqual([
      ['ngx-brotli', '1.0.0~rc', 'dynamic', 'ngx_brotli-1.0.0rc'],
      ['ngx-echo', '0.63', 'static', 'libnginx-mod-http-echo-0.63'],
    ]);
    expect(plan.configureArgs).toContain('--add-dynamic-module=../ngx_brotli-1.0.0rc');
    expect(plan.configureArgs.filter((a) => a.startsWith('--add-module='))).toEqual(['--add-module=../libnginx-mod-http-echo-0.63']);
    const ids = plan.stages.map((s) => s.id);
    expect(ids).toEqual(expect.arrayContaining(['fetch:ngx-brotli', 'extract:ngx-brotli', 'patch:ngx-brotli', 'library:brotli']));
    expect(ids).not.toContain('library:ngx-brotli');
    const configure = plan.stages.find((s) => s.id === 'configure:nginx')!;
    expect(configure.deps).toEqual(expect.arrayContaining(['patch:ngx-brotli', 'library:brotli']));
    expect(plan.patches.filter((p) => p.component === 'ngx-brotli').map((p) => p.id)).toEqual(['patches/ngx-brotli/1.0.0~rc/0001-find-separately-built-libbrotli.patch']);
    expect(moduleObjects(m[0]!)).toEqual(['ngx_http_brotli_filter_module.so', 'ngx_http_brotli_static_module.so']);
    expect(modulesPath(plan)).toBe('/usr/lib/nginx/modules');
  });

  it('static instead of dynamic: --add-module; configure and what follows change, no library or fetch stage does', () => {
    const t = copyTree();
    editJson(path.join(t.recipes, 'profiles/ktls-brotli.json'), (j) => (j.components.add['ngx-brotli'].link = 'static'));
    const base = resolvePlan(loadRecipes(t.recipes), 'ktls-brotli', { ...tc, patchesDir: t.patches });
    const plan2 = resolvePlan(loadRecipes(t.recipes), 'ktls-brotli', { ...tc, patchesDir: t.patches });
    expect(plan2.configureArgs).toContain('--add-module=../ngx_brotli-1.0.0rc');
    // the nginx-debug twin is configured with the same modules: its stages change too
    expect(changed(plan, base)).toEqual(['configure:nginx', 'compile:nginx', 'install:nginx', 'configure:nginx-debug', 'compile:nginx-debug', 'install:nginx-debug', 'verify', 'smoke', 'artifacts']);
  });

  it("a change to the module's own patch re-keys its patch stage and nginx's, not libbrotli", () => {
    const t = copyTree();
    const f = path.join(t.patches, 'ngx-brotli/1.0.0~rc/0001-find-separately-built-libbrotli.patch');
    writeFileSync(f, readFileSync(f, 'utf8').replace('Author: nginx-forge', 'Author: nginx-forge (edited)'));
    const plan2 = resolvePlan(loadRecipes(t.recipes), 'ktls-brotli', { ...tc, patchesDir: t.patches });
    expect(changed(plan, plan2)).toEqual(['patch:ngx-brotli', 'configure:nginx', 'compile:nginx', 'install:nginx', 'configure:nginx-debug', 'compile:nginx-debug', 'install:nginx-debug', 'verify', 'smoke', 'artifacts']);
  });

  it('the ktls profile has no module and no module stage', () => {
    const k = resolvePlan(loadRecipes(), 'ktls', tc);
    expect(modules(k)).toEqual([]);
    expect(k.configureArgs.some((a) => a.includes('-module=..'))).toBe(false);
  });

  it('"1.0.0~rc" orders before 1.0.0 (a pre-release), after 0.9', () => {
    expect(compareVersions('1.0.0~rc', '1.0.0')).toBeLessThan(0);
    expect(compareVersions('1.0.0~rc', '0.9')).toBeGreaterThan(0);
    expect(compareVersions('10.48', '10.47')).toBeGreaterThan(0);
  });
});

describe('module pins are validated', () => {
  it('dynamic without --with-compat, no link, a required library missing: each named with file and field', () => {
    const t = copyTree();
    editJson(path.join(t.recipes, 'profiles/ktls-brotli.json'), (j) => {
      j.nginx = { modules: { remove: ['--with-compat'] } };
      delete j.components.add.brotli;
    });
    const p = problemsOf(() => resolvePlan(loadRecipes(t.recipes), 'ktls-brotli', { patchesDir: t.patches }));
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ktls-brotli\.json: nginx\.modules: ngx-brotli is a dynamic module: add "--with-compat"/),
        expect.stringMatching(/^ktls-brotli\.json: components\.ngx-brotli: ngx-brotli needs the library brotli .*add "brotli" to the profile's components/),
      ]),
    );
    editJson(path.join(t.recipes, 'profiles/ktls-brotli.json'), (j) => {
      delete j.components.add['ngx-brotli'].link;
      j.components.change = { jemalloc: { link: 'static' } };
    });
    const q = problemsOf(() => resolvePlan(loadRecipes(t.recipes), 'ktls-brotli', { patchesDir: t.patches }));
    expect(q).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/components\.ngx-brotli\.link: choose how ngx_brotli is linked: "link": "static" .* or "dynamic"/),
        expect.stringMatching(/components\.jemalloc\.link: only modules are linked statically or dynamically/),
      ]),
    );
  });

  it('a link the recipe does not allow, and a module recipe with a build section', () => {
    const t = copyTree();
    editJson(path.join(t.recipes, 'components/ngx-brotli.json'), (j) => {
      j.module.links = ['static'];
      j.build = { system: 'configure' };
    });
    const p = problemsOf(() => resolvePlan(loadRecipes(t.recipes), 'ktls-brotli', { patchesDir: t.patches }));
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/components\.ngx-brotli\.link: ngx_brotli cannot be linked dynamic \(its recipe allows: static\)/),
        expect.stringMatching(/^ngx-brotli\.json: build: a module is compiled by nginx's own make/),
      ]),
    );
  });
});

describe('modules in verify and smoke configs', () => {
  const plan = resolvePlan(loadRecipes(), 'ktls-brotli');
  const mods = smokeModules(plan, '/root/usr/lib/nginx/modules');

  it('the smoke config loads the .so files and has a location pair per encoding', () => {
    expect(mods.map((m) => [m.name, m.load.length, Boolean(m.encoding)])).toEqual([
      ['ngx-brotli', 2, true],
      ['ngx-echo', 0, false],
    ]);
    const conf = renderConfig({ work: '/w', io: '/io', tlsPort: 1, httpPort: 2, upstreamPort: 3, suites: parseSuites(undefined), modules: mods });
    expect(conf.split('\n').slice(1, 3)).toEqual([
      'load_module /root/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so;',
      'load_module /root/usr/lib/nginx/modules/ngx_http_brotli_static_module.so;',
    ]);
    expect(conf).toMatch(/location \/mod\/ngx-brotli\/dyn\/ \{\n\s+alias \/w\/mod\/ngx-brotli\/;\n\s+gzip off;\n\s+brotli on;/);
    expect(conf).toMatch(/location \/mod\/ngx-brotli\/static\/ \{\n\s+alias \/w\/mod\/ngx-brotli\/;\n\s+gzip off;\n\s+brotli_static on;\n\s+\}/);
  });

  it("verify's config puts load_module first and the module's directives in http{}", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nf-vconf-'));
    const c = minimalConfig(dir, { main: ['load_module /m/a.so;'], http: ['brotli on;'] });
    expect(c.startsWith('load_module /m/a.so;\nworker_processes 1;')).toBe(true);
    expect(c).toMatch(/http \{[^}]*\n {2}brotli on;\n/);
  });

  it('the module proof names the module when a response is not what it should be', () => {
    const expect0 = { name: 'ngx-brotli', displayName: 'ngx_brotli', link: 'dynamic' as const, load: ['/m/ngx_http_brotli_filter_module.so'], directives: [], token: 'br' as const, originalSha256: 'a'.repeat(64), originalSize: 100, staticSha256: 'b'.repeat(64), staticSize: 40, staticSuffix: '.br' };
    const ok = moduleProof({
      expect: expect0,
      dyn: { httpCode: '200', encoding: 'br', bodySize: 30, bodySha256: 'c'.repeat(64), decodedSha256: 'a'.repeat(64) },
      static: { httpCode: '200', encoding: 'br', bodySize: 40, bodySha256: 'b'.repeat(64), decodedSha256: 'a'.repeat(64) },
    })['module:ngx-brotli']!;
    expect(ok.ok).toBe(true);
    expect(ok.required).toBe(true);
    const bad = moduleProof({
      expect: expect0,
      dyn: { httpCode: '200', encoding: '-', bodySize: 100, bodySha256: 'a'.repeat(64), decodedSha256: '-', problem: 'not br-encoded (Content-Encoding: -)' },
      static: { httpCode: '200', encoding: 'br', bodySize: 30, bodySha256: 'c'.repeat(64), decodedSha256: 'a'.repeat(64) },
    })['module:ngx-brotli']!;
    expect(bad.ok).toBe(false);
    expect(bad.detail).toMatch(/^module ngx_brotli \(ngx-brotli, dynamic, load_module ngx_http_brotli_filter_module\.so\): on the fly: HTTP 200, not br-encoded/);
    expect(bad.detail).toContain("not the .br file's bytes");
  });
});

describe('module packages and the bench brotli location', () => {
  const plan = resolvePlan(loadRecipes(), 'ktls-brotli');

  it('the snippet loads the .so files by absolute path; the package is named and versioned like Debian\'s', async () => {
    const { dynamicModules, moduleSnippet, modulePackageName, moduleDebVersion } = await import('../src/package/modules.ts');
    const [m, ...rest] = dynamicModules(plan);
    expect(rest).toEqual([]);
    expect(modulePackageName(plan, m!)).toBe('nginx-forge-ktls-brotli-mod-http-brotli');
    expect(moduleDebVersion(m!)).toBe('1.0.0~rc-1');
    expect(moduleSnippet(plan, m!).split('\n').slice(1)).toEqual([
      'load_module /usr/lib/nginx/modules/ngx_http_brotli_filter_module.so;',
      'load_module /usr/lib/nginx/modules/ngx_http_brotli_static_module.so;',
      '',
    ]);
  });

  it('the main package loses the .so files and its nginx.conf includes modules-enabled', async () => {
    const { splitModules, ENABLED_INCLUDE } = await import('../src/package/modules.ts');
    const { mkdirSync, existsSync } = await import('node:fs');
    const root = mkdtempSync(path.join(tmpdir(), 'nf-split-'));
    mkdirSync(path.join(root, 'usr/lib/nginx/modules'), { recursive: true });
    mkdirSync(path.join(root, 'etc/nginx'), { recursive: true });
    for (const so of ['ngx_http_brotli_filter_module.so', 'ngx_http_brotli_static_module.so']) writeFileSync(path.join(root, 'usr/lib/nginx/modules', so), 'x');
    writeFileSync(path.join(root, 'etc/nginx/nginx.conf'), 'worker_processes 1;\n');
    splitModules(plan, root, path.join(root, 'etc/nginx/nginx.conf'));
    expect(existsSync(path.join(root, 'usr/lib/nginx/modules'))).toBe(false);
    expect(existsSync(path.join(root, 'etc/nginx/modules-enabled'))).toBe(true);
    expect(readFileSync(path.join(root, 'etc/nginx/nginx.conf'), 'utf8')).toBe(`${ENABLED_INCLUDE}\nworker_processes 1;\n`);
    // the ktls profile (no dynamic module) is left alone
    const k = resolvePlan(loadRecipes(), 'ktls');
    writeFileSync(path.join(root, 'etc/nginx/nginx.conf'), 'worker_processes 1;\n');
    splitModules(k, root, path.join(root, 'etc/nginx/nginx.conf'));
    expect(readFileSync(path.join(root, 'etc/nginx/nginx.conf'), 'utf8')).toBe('worker_processes 1;\n');
  });

  it('what the nginx binary itself links: not the dynamic module, not the library only it needs', async () => {
    const { linkedIntoBinary } = await import('../src/package/modules.ts');
    expect(linkedIntoBinary(plan).map((c) => c.name)).toEqual(['openssl', 'pcre2', 'zlib-ng', 'jemalloc', 'ngx-echo']);
    expect(linkedIntoBinary(resolvePlan(loadRecipes(), 'ktls')).map((c) => c.name)).toEqual(['openssl', 'pcre2', 'zlib-ng', 'jemalloc']);
  });

  it('the FreeBSD port gets each module as an OPTION, on by default', async () => {
    const { freebsdModuleOptions } = await import('../src/package/modules.ts');
    const o = freebsdModuleOptions(plan, '${PREFIX}/libexec/nginx/modules');
    expect(o.define).toEqual(['HTTP_BROTLI', 'HTTP_ECHO']);
    expect(o.lines).toContain('HTTP_BROTLI_CONFIGURE_ON=\t--add-dynamic-module=${WRKDIR}/ngx_brotli-1.0.0rc');
    expect(o.lines).toContain('HTTP_ECHO_CONFIGURE_ON=\t--add-module=${WRKDIR}/libnginx-mod-http-echo-0.63');
    expect(o.plist).toEqual(['%%HTTP_BROTLI%%libexec/nginx/modules/ngx_http_brotli_filter_module.so', '%%HTTP_BROTLI%%libexec/nginx/modules/ngx_http_brotli_static_module.so']);
    expect(o.isModuleArg('--add-dynamic-module=../ngx_brotli-1.0.0rc')).toBe(true);
    expect(o.isModuleArg('--with-stream')).toBe(false);
  });

  it('bench serve: a brotli location over the same files as gzip, and the .so files loaded first', async () => {
    const { renderConf } = await import('../src/bench/server.ts');
    const c = renderConf({ bin: '/x', dir: '/d', docroot: '/www', cert: '/c', key: '/k', tlsPort: 1, plainPort: 2, ktls: 'on', gzipLevel: 6, workers: 1, earlyErrorLog: true, loadModules: ['/m/a.so'], brotliLevel: 6 });
    expect(c.split('\n')[1]).toBe('load_module /m/a.so;');
    expect(c).toMatch(/location \/br\/ \{\n\s+alias \/www\/gz\/;\n\s+brotli on;\n\s+brotli_comp_level 6;/);
    const plain = renderConf({ bin: '/x', dir: '/d', docroot: '/www', cert: '/c', key: '/k', tlsPort: 1, plainPort: 2, ktls: 'on', gzipLevel: 6, workers: 1, earlyErrorLog: true });
    expect(plain).not.toContain('brotli');
  });
});

describe('a smoke failure names the module', () => {
  it('nginx output about a .so or a directive of a module names that module', async () => {
    const { modulesNamedIn } = await import('../src/smoke/index.ts');
    const mods = smokeModules(resolvePlan(loadRecipes(), 'ktls-brotli'), '/r/usr/lib/nginx/modules');
    expect(modulesNamedIn('nginx: [emerg] dlopen() "/r/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so" failed', mods)).toEqual(['module ngx_brotli (ngx-brotli, dynamic)']);
    expect(modulesNamedIn('nginx: [emerg] unknown directive "brotli" in /w/nginx.conf:3', mods)).toEqual(['module ngx_brotli (ngx-brotli, dynamic)']);
    expect(modulesNamedIn('nginx: [emerg] bind() to 127.0.0.1:8443 failed (98: Address in use)', mods)).toEqual([]);
  });
});
