// Recipe path fields are validated at load: relative, normalized, inside their tree. An openssl
// topdir of "../../x" made build write outside every directory nginx-forge owns; a licenseFiles
// entry of "../../etc/shadow" would have been copied into the release tarball.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { RecipeError } from '../src/errors.ts';
import { BUILTIN_RECIPES, loadRecipes, PROJECT_ROOT } from '../src/recipes/load.ts';
import { copyRecipes, editJson } from './helpers/recipes.ts';

const problemsOf = (dir: string): string[] => {
  try {
    loadRecipes(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(RecipeError);
    return (e as RecipeError).message.split('\n');
  }
  throw new Error('the recipes loaded');
};

describe('recipe path fields', () => {
  it('every path field: absolute, "..", not normalized; one line per problem naming file and field', () => {
    const dir = copyRecipes('nf-faults-recipes-');
    editJson(path.join(dir, 'components/openssl.json'), (j) => {
      j.versions['3.5.7'].artifacts[0].topdir = '../../../../../../../tmp/evil';
      j.licenseFiles = ['../../../../../../etc/shadow'];
    });
    editJson(path.join(dir, 'components/pcre2.json'), (j) => {
      j.licenseFiles = ['/etc/passwd', './LICENCE.md'];
    });
    editJson(path.join(dir, 'components/nginx.json'), (j) => {
      const ps = j.versions['1.26.3'].patchSets[0];
      ps.dir = '/etc';
      ps.patches[0].file = '../../../../root/x.patch';
      ps.artifact.signature = undefined;
      ps.artifact.topdir = '..';
    });
    editJson(path.join(dir, 'components/jemalloc.json'), (j) => {
      const v = Object.values(j.versions)[0] as any;
      v.artifacts[0].topdir = 'a/b';
    });
    const lines = problemsOf(dir);
    const want: [RegExp, RegExp][] = [
      [/openssl\.json: versions\["3\.5\.7"\]\.artifacts\[0\]\.topdir: /, /must be a single directory name/],
      [/openssl\.json: licenseFiles\[0\]: /, /contains "\.\.": it must stay inside the source tree/],
      [/pcre2\.json: licenseFiles\[0\]: /, /"\/etc\/passwd" is an absolute path/],
      [/pcre2\.json: licenseFiles\[1\]: /, /not normalized: write "LICENCE\.md"/],
      [/nginx\.json: versions\["1\.26\.3"\]\.patchSets\[0\]\.dir: /, /absolute path/],
      [/nginx\.json: versions\["1\.26\.3"\]\.patchSets\[0\]\.patches\[0\]\.file: /, /contains "\.\."/],
      [/nginx\.json: versions\["1\.26\.3"\]\.patchSets\[0\]\.artifact\.topdir: /, /plain directory name/],
      [/jemalloc\.json: versions\[.*\]\.artifacts\[0\]\.topdir: /, /single directory name/],
    ];
    for (const [where, what] of want) {
      const line = lines.find((l) => where.test(l));
      expect(line, `${where} in:\n${lines.join('\n')}`).toBeDefined();
      expect(line).toMatch(what);
    }
  });

  it('a patch-set dir outside the patch set\'s own tree', () => {
    const dir = copyRecipes('nf-faults-recipes-');
    editJson(path.join(dir, 'components/nginx.json'), (j) => {
      j.versions['1.26.3'].patchSets[0].dir = 'elsewhere/patches';
    });
    const lines = problemsOf(dir);
    expect(lines.join('\n')).toMatch(/nginx\.json: versions\["1\.26\.3"\]\.patchSets\[0\]\.dir: "elsewhere\/patches" is outside the patch set's tree: it must be "debian" or start with "debian\/"/);
  });

  it('profile paths: prefix and nginx.paths must not climb out with ".."', () => {
    const dir = copyRecipes('nf-faults-recipes-');
    editJson(path.join(dir, 'profiles/ktls.json'), (j) => {
      j.nginx.prefix = '/usr/../../etc';
      j.nginx.paths = { ...(j.nginx.paths ?? {}), 'conf-path': '../../../etc/passwd' };
    });
    const text = problemsOf(dir).join('\n');
    expect(text).toMatch(/ktls\.json: nginx\.prefix: .*must not contain "\." or "\.\." components/);
    expect(text).toMatch(/ktls\.json: nginx\.paths\.conf-path: .*must not contain "\.\."/);
  });

  it('the CLI refuses them before any work: exit 2, nothing but the problem lines', async () => {
    const dir = copyRecipes('nf-faults-recipes-');
    editJson(path.join(dir, 'components/openssl.json'), (j) => {
      j.versions['3.5.7'].artifacts[0].topdir = '../../../../../../../tmp/evil';
    });
    const home = mkdtempSync(path.join(tmpdir(), 'nf-faults-home-'));
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'build', '--recipes', dir, '--offline', '--no-smoke'], {
      reject: false,
      env: { NGINX_FORGE_HOME: home, CI: '1' },
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/openssl\.json: versions\["3\.5\.7"\]\.artifacts\[0\]\.topdir: "\.\.\/\.\.\/.*" must be a single directory name/);
    expect(r.stderr).not.toMatch(/internal error/);
  });

  it('the built-in recipes pass', () => {
    expect(() => loadRecipes()).not.toThrow();
  });
});
