// Profiles that extend one another ("extends"): every shipped profile but the root is written as
// the difference from its base, and what it resolves to differs from the base by exactly what the
// file declares; a broken chain or an edit naming something the base lacks is a recipe error.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { planJson } from '../src/commands/plan.ts';
import { RecipeError } from '../src/errors.ts';
import { BUILTIN_RECIPES, loadRecipes, MAX_EXTENDS, PROJECT_ROOT } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import type { ProfileRecipe } from '../src/recipes/schema.ts';
import { copyRecipes, editJson } from './helpers/recipes.ts';

const PROFILES = path.join(BUILTIN_RECIPES, 'profiles');
const shipped = readdirSync(PROFILES)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ name: f.replace(/\.json$/, ''), raw: JSON.parse(readFileSync(path.join(PROFILES, f), 'utf8')) }));

const minus = <T>(a: readonly T[], b: readonly T[]) => a.filter((x) => !b.includes(x));
const problemsOf = (dir: string): string[] => {
  try {
    loadRecipes(dir);
  } catch (e) {
    if (e instanceof RecipeError) return e.problems.map((p) => `${path.basename(p.file)}: ${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error('the recipes loaded');
};

/** A list field of a profile that extends: what the resolved list gained and lost against the base's. */
function checkList(where: string, base: readonly string[], resolved: readonly string[], declared: unknown) {
  if (declared === undefined) return expect(resolved, `${where}: not declared, so the base's`).toEqual(base);
  if (Array.isArray(declared)) return expect(resolved, `${where}: replaced`).toEqual(declared);
  const d = declared as { remove?: string[]; prepend?: string[]; add?: string[] };
  const added = [...(d.prepend ?? []), ...(d.add ?? [])];
  expect(minus(resolved, base).sort(), `${where}: what it adds`).toEqual([...added].sort());
  expect(minus(base, resolved).sort(), `${where}: what it removes`).toEqual([...(d.remove ?? [])].sort());
  // in place: prepended first, added last, the base's order kept in between
  expect(resolved, `${where}: order`).toEqual([...(d.prepend ?? []), ...minus(base, d.remove ?? []), ...(d.add ?? [])]);
}

describe('shipped profiles are written as the difference from their base', () => {
  const set = loadRecipes();
  const recipe = (n: string) => set.profiles.get(n)!.recipe;

  it('exactly one profile is complete on its own (the root); every other one extends', () => {
    const roots = shipped.filter((p) => p.raw.extends === undefined).map((p) => p.name);
    expect(roots).toEqual(['ktls']);
    for (const p of shipped) expect(set.profiles.get(p.name)!.extends.at(-1) ?? p.name, p.name).toBe('ktls');
  });

  for (const { name, raw } of shipped.filter((p) => p.raw.extends !== undefined)) {
    it(`${name}: resolved, it differs from ${raw.extends} by exactly what ${name}.json adds, removes and changes`, () => {
      const base = recipe(raw.extends);
      const r = recipe(name);
      // components: the order is the build order (added ones after the base's)
      const c = raw.components ?? {};
      const names = Object.keys(r.components);
      expect(minus(names, Object.keys(base.components)), 'components added').toEqual(Object.keys(c.add ?? {}));
      expect(minus(Object.keys(base.components), names), 'components removed').toEqual(c.remove ?? []);
      for (const [n, pin] of Object.entries(r.components)) {
        const was = base.components[n];
        if (!was) {
          expect(pin, n).toMatchObject(c.add[n]);
          continue;
        }
        const ch = c.change?.[n] ?? {};
        expect(pin.version, `${n}.version`).toBe(ch.version ?? was.version);
        expect(pin.link, `${n}.link`).toBe(ch.link ?? was.link);
        checkList(`components.${n}.options`, was.options, pin.options, ch.options);
        // a declared change is a change
        if (ch.version !== undefined) expect(ch.version, `${n}.version is declared but the same as the base's`).not.toBe(was.version);
      }
      const n = raw.nginx ?? {};
      for (const k of ['modules', 'ccOpt', 'ldOpt'] as const) checkList(`nginx.${k}`, base.nginx[k], r.nginx[k], n[k]);
      checkList(
        'nginx.variants',
        base.nginx.variants.map((v) => v.name),
        r.nginx.variants.map((v) => v.name),
        n.variants === undefined || Array.isArray(n.variants) ? n.variants?.map((v: { name: string }) => v.name) : { remove: n.variants.remove, add: n.variants.add?.map((v: { name: string }) => v.name) },
      );
      const declaredTwins: { name: string }[] = Array.isArray(n.variants) ? n.variants : (n.variants?.add ?? []);
      for (const v of r.nginx.variants) expect(v, v.name).toEqual(declaredTwins.find((x) => x.name === v.name) ?? base.nginx.variants.find((x) => x.name === v.name));
      const paths = Object.entries(n.paths ?? {});
      expect(r.nginx.paths, 'nginx.paths').toEqual(Object.fromEntries([...Object.entries(base.nginx.paths).filter(([k]) => !(k in (n.paths ?? {}))), ...paths.filter(([, v]) => v !== null)]));
      // scalars: the base's unless declared, and a declared one differs from the base's
      const scalars: [string, unknown, unknown, unknown][] = [
        ['nginx.prefix', base.nginx.prefix, r.nginx.prefix, n.prefix],
        ['ktls', base.ktls, r.ktls, raw.ktls],
        ['sanitizers', base.sanitizers, r.sanitizers, raw.sanitizers],
      ];
      for (const [k, b, got, declared] of scalars) {
        expect(got, k).toEqual(declared ?? b);
        if (declared !== undefined) expect(declared, `${k} is declared but the same as ${raw.extends}'s`).not.toEqual(b);
      }
      expect(r.description).toBe(raw.description);
    });
  }
});

describe('what the README says the profiles are', () => {
  const set = loadRecipes();
  const ktls = resolvePlan(set, 'ktls');

  for (const name of ['ktls-brotli', 'ktls-libatomic']) {
    it(`${name}: ktls plus its components: the production binary without --with-debug, and ktls's nginx-debug twin`, () => {
      const p = resolvePlan(set, name);
      expect(p.extends).toEqual(['ktls']);
      expect(p.nginxFlags).toEqual(ktls.nginxFlags);
      expect(p.configureArgs).not.toContain('--with-debug');
      expect(p.variants.map(({ configureArgs: _, ...v }) => v)).toEqual(ktls.variants.map(({ configureArgs: _, ...v }) => v));
      const twin = p.variants[0]!;
      expect(minus(twin.configureArgs, p.configureArgs)).toEqual(['--with-debug']);
      expect(p.components.map((c) => c.name).slice(0, ktls.components.length)).toEqual(ktls.components.map((c) => c.name));
      // the shared libraries are the same cache entries as ktls's
      for (const c of ktls.components.filter((x) => x.role === 'library' || x.role === 'tls')) {
        expect(p.stages.find((s) => s.id === `library:${c.name}`)!.key, c.name).toBe(ktls.stages.find((s) => s.id === `library:${c.name}`)!.key);
      }
    });
  }

  it("ktls-asan: every one of ktls's nginx modules plus --with-debug in its one binary, no twin, no jemalloc", () => {
    const p = resolvePlan(set, 'ktls-asan');
    expect(p.nginxFlags).toEqual([...ktls.nginxFlags, '--with-debug']);
    expect(p.variants).toEqual([]);
    expect(p.components.map((c) => c.name)).toEqual(minus(ktls.components.map((c) => c.name), ['jemalloc']));
  });

  it('a change to the base reaches every profile that extends it', () => {
    const dir = copyRecipes('nf-extends-');
    editJson(path.join(dir, 'profiles/ktls.json'), (j) => {
      j.nginx.modules.push('--with-http_perl_module');
      j.nginx.paths['conf-path'] = '/etc/nginx-forge/nginx.conf';
    });
    const r = loadRecipes(dir);
    for (const { name } of shipped) {
      expect(r.profiles.get(name)!.recipe.nginx.modules, name).toContain('--with-http_perl_module');
      expect(r.profiles.get(name)!.recipe.nginx.paths['conf-path'], name).toBe('/etc/nginx-forge/nginx.conf');
    }
  });

  for (const { name } of shipped.filter((p) => p.raw.extends !== undefined)) {
    it(`${name}: written out in full (its resolved profile as the file) it is the same plan, key for key`, () => {
      const dir = copyRecipes('nf-extends-');
      writeFileSync(path.join(dir, 'profiles', `${name}.json`), JSON.stringify(set.profiles.get(name)!.recipe, null, 2));
      const full = loadRecipes(dir);
      expect(full.profiles.get(name)!.extends).toEqual([]);
      const a = resolvePlan(set, name);
      const b = resolvePlan(full, name);
      expect(b.stages.map((s) => [s.id, s.key])).toEqual(a.stages.map((s) => [s.id, s.key]));
      expect(b.configureArgs).toEqual(a.configureArgs);
      expect(b.planHash).toBe(a.planHash);
    });
  }
});

describe('extends: errors name the file and the field', () => {
  const write = (dir: string, name: string, j: object) => writeFileSync(path.join(dir, 'profiles', `${name}.json`), JSON.stringify({ name, description: `test profile ${name}`, ...j }));

  it('an unknown base, a cycle, a profile extending itself', () => {
    const dir = copyRecipes('nf-extends-');
    write(dir, 'x-unknown', { extends: 'ktls-nope' });
    write(dir, 'x-a', { extends: 'x-b' });
    write(dir, 'x-b', { extends: 'x-a' });
    write(dir, 'x-self', { extends: 'x-self' });
    const p = problemsOf(dir);
    expect(p).toContainEqual(expect.stringMatching(/^x-unknown\.json: extends: no profile "ktls-nope" in .*profiles \(known: ktls, .*\)/));
    expect(p).toContainEqual(expect.stringMatching(/^x-b\.json: extends: "x-a" closes a cycle \(x-a → x-b → x-a\)/));
    expect(p).toContainEqual(expect.stringMatching(/^x-a\.json: extends: the base profile x-b cannot be resolved/));
    expect(p).toContainEqual(expect.stringMatching(/^x-self\.json: extends: "x-self" closes a cycle \(x-self → x-self\)/));
    // the shipped profiles are unaffected and not reported
    expect(p.filter((l) => !l.startsWith('x-'))).toEqual([]);
  });

  it(`a chain deeper than ${MAX_EXTENDS} profiles`, () => {
    const dir = copyRecipes('nf-extends-');
    for (let i = 1; i <= MAX_EXTENDS; i++) write(dir, `deep-${i}`, { extends: i === 1 ? 'ktls' : `deep-${i - 1}` });
    const p = problemsOf(dir);
    expect(p).toEqual([expect.stringMatching(new RegExp(`^deep-${MAX_EXTENDS}\\.json: extends: deep-${MAX_EXTENDS} → .* → ktls is ${MAX_EXTENDS + 1} profiles deep, more than ${MAX_EXTENDS}`))]);
  });

  it('removing what the base does not have, adding what it has: each edit named by its field', () => {
    const dir = copyRecipes('nf-extends-');
    write(dir, 'x-edits', {
      extends: 'ktls',
      components: { remove: ['brotli'], change: { 'zlib-ng': { version: '2.2.4' }, brotli: { version: '1.1.0' } }, add: { pcre2: { version: '10.48' } } },
      nginx: {
        modules: { remove: ['--with-debug'], add: ['--with-compat'] },
        ccOpt: { prepend: ['-O1', '-O1'] },
        variants: { remove: ['nginx-asan'] },
        paths: { 'pid-path': null, 'scgi-path': null },
      },
    });
    write(dir, 'x-openssl', { extends: 'ktls', components: { change: { openssl: { options: { remove: ['enable-ktls', 'no-engine'] } } } } });
    const p = problemsOf(dir);
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^x-edits\.json: components\.remove\[0\]: "brotli" is not one of ktls's components \(.*ktls\.json\), nothing to remove: it has nginx, openssl, .*; drop "brotli" from "remove"/),
        expect.stringMatching(/^x-edits\.json: components\.change\.brotli: "brotli" is not one of ktls's components .*goes in "add"/),
        expect.stringMatching(/^x-edits\.json: components\.add\.pcre2: "pcre2" is already one of ktls's components .*"change"/),
        expect.stringMatching(/^x-edits\.json: nginx\.modules\.remove\[0\]: "--with-debug" is not in ktls's nginx\.modules \(.*ktls\.json\), nothing to remove/),
        expect.stringMatching(/^x-edits\.json: nginx\.modules\.add\[0\]: "--with-compat" is already in ktls's nginx\.modules/),
        expect.stringMatching(/^x-edits\.json: nginx\.ccOpt\.prepend\[1\]: "-O1" is already in .*listed twice/),
        expect.stringMatching(/^x-edits\.json: nginx\.variants\.remove\[0\]: "nginx-asan" is not in ktls's nginx\.variants/),
        expect.stringMatching(/^x-edits\.json: nginx\.paths\.scgi-path: is not in ktls's nginx\.paths/),
        expect.stringMatching(/^x-openssl\.json: components\.change\.openssl\.options\.remove\[1\]: "no-engine" is not in ktls's components\.openssl\.options/),
      ]),
    );
    expect(p.filter((l) => l.startsWith('x-edits.json: nginx.paths.pid-path'))).toEqual([]);
    expect(p.filter((l) => l.startsWith('x-edits.json: components.change.zlib-ng'))).toEqual([]);
    expect(p.filter((l) => !l.startsWith('x-'))).toEqual([]);
  });

  it('a malformed edit is a schema problem at its field; the resolved profile then meets the cross-field rules', () => {
    const dir = copyRecipes('nf-extends-');
    write(dir, 'x-shape', { extends: 'ktls', nginx: { modules: { add: ['with-nothing'], drop: [] }, ldOpt: 'x' } });
    const p = problemsOf(dir);
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^x-shape\.json: nginx\.modules\.add\[0\]: must be a --with-\*\/--without-\* flag/),
        expect.stringMatching(/^x-shape\.json: nginx\.modules\.drop: unknown field "drop"/),
        expect.stringMatching(/^x-shape\.json: nginx\.ldOpt: must be a list \(it replaces the base's nginx\.ldOpt\) or \{"add"/),
      ]),
    );
    // valid as an edit, but the resolved profile breaks a rule checked after resolution
    const dir2 = copyRecipes('nf-extends-');
    write(dir2, 'x-nossl', { extends: 'ktls', nginx: { modules: { remove: ['--with-http_ssl_module'] } } });
    expect(() => resolvePlan(loadRecipes(dir2), 'x-nossl')).toThrow(/x-nossl\.json: nginx\.modules: a kTLS profile needs "--with-http_ssl_module"/);
  });
});

describe('plan --json shows the resolved profile and its chain', () => {
  it('a two-deep chain: extends nearest first, the resolved profile with both edits, no "extends" or "$schema" in it', () => {
    const dir = copyRecipes('nf-extends-');
    const write = (name: string, j: object) => writeFileSync(path.join(dir, 'profiles', `${name}.json`), JSON.stringify({ $schema: '../schema/profile.schema.json', name, description: `test profile ${name}`, ...j }));
    write('x-one', { extends: 'ktls', nginx: { modules: { remove: ['--with-mail', '--with-mail_ssl_module'] }, paths: { 'lock-path': null } } });
    write('x-two', { extends: 'x-one', components: { remove: ['jemalloc'] }, nginx: { ccOpt: { add: ['-march=x86-64-v2'] } } });
    const set = loadRecipes(dir);
    const ktls = set.profiles.get('ktls')!.recipe;
    const j = planJson(resolvePlan(set, 'x-two'));
    expect(j.extends).toEqual(['x-one', 'ktls']);
    expect(j.resolvedProfile).not.toHaveProperty('extends');
    expect(j.resolvedProfile).not.toHaveProperty('$schema');
    expect(Object.keys(j.resolvedProfile.components)).toEqual(minus(Object.keys(ktls.components), ['jemalloc']));
    expect(j.resolvedProfile.nginx.modules).toEqual(minus(ktls.nginx.modules, ['--with-mail', '--with-mail_ssl_module']));
    expect(j.resolvedProfile.nginx.ccOpt).toEqual([...ktls.nginx.ccOpt, '-march=x86-64-v2']);
    expect(j.resolvedProfile.nginx.paths).not.toHaveProperty('lock-path');
    expect(j.resolvedProfile.nginx.variants).toEqual(ktls.nginx.variants);
    expect(j.configureArgs).not.toContain('--with-mail');
    expect(j.configureArgs.some((a: string) => a.startsWith('--lock-path='))).toBe(false);
    expect(planJson(resolvePlan(set, 'ktls')).extends).toEqual([]);
  });

  it('ktls-brotli: extends ["ktls"], and the profile with ktls\'s modules and twin and its own components', async () => {
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'plan', '--profile', 'ktls-brotli', '--json'], { reject: false, cwd: PROJECT_ROOT });
    expect(r.exitCode, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { extends: string[]; resolvedProfile: ProfileRecipe };
    expect(j.extends).toEqual(['ktls']);
    const ktls = loadRecipes().profiles.get('ktls')!.recipe;
    expect(j.resolvedProfile.nginx).toEqual(ktls.nginx);
    expect(Object.keys(j.resolvedProfile.components)).toEqual([...Object.keys(ktls.components), 'brotli', 'ngx-brotli', 'ngx-echo']);
    expect(j.resolvedProfile).toMatchObject({ name: 'ktls-brotli', ktls: true, sanitizers: false });
    expect(j.resolvedProfile).not.toHaveProperty('extends');
  });
});
