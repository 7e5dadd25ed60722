// Profiles that extend one another ("extends"): a profile resolves to its base with its edits
// applied; a broken chain or an edit naming something the base lacks is a recipe error.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planJson } from '../src/commands/plan.ts';
import { RecipeError } from '../src/errors.ts';
import { loadRecipes, MAX_EXTENDS } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { copyRecipes } from './helpers/recipes.ts';

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
        expect.stringMatching(/^x-edits\.json: components\.remove\[0\]: "brotli" is not one of ktls's components \(.*ktls\.json\)/),
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
});
