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
    expect(text).toMatch(/ktls\.json: nginx\.prefix: "\/usr\/\.\.\/\.\.\/etc" contains "\.\.": a path must not climb out/);
    expect(text).toMatch(/ktls\.json: nginx\.paths\.conf-path: "\.\.\/\.\.\/\.\.\/etc\/passwd" contains "\.\."/);
  });

  it('the CLI refuses a profile that would put its error log directly into /var/log: exit 2, file and field', async () => {
    const dir = copyRecipes('nf-faults-recipes-');
    editJson(path.join(dir, 'profiles/ktls.json'), (j) => {
      j.nginx.paths['error-log-path'] = '/var/log/nginx-error.log';
    });
    const home = mkdtempSync(path.join(tmpdir(), 'nf-faults-home-'));
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'plan', '--recipes', dir], { reject: false, env: { NGINX_FORGE_HOME: home, CI: '1' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/ktls\.json: nginx\.paths\.error-log-path: "\/var\/log\/nginx-error\.log" puts the error log directly into \/var\/log: \/var\/log is a system directory/);
    expect(r.stderr).not.toMatch(/internal error|    at /);
  });

  it('the CLI refuses a build.env key that is not a shell identifier and a newline in build.args: exit 2, file and field', async () => {
    // the FreeBSD port wrote build.env keys unquoted into shell lines: X;cmd;Y ran cmd
    const dir = copyRecipes('nf-faults-recipes-');
    editJson(path.join(dir, 'components/zlib-ng.json'), (j) => {
      j.build.env = { ...j.build.env, 'X;touch /tmp/pwned;Y': '1' };
      j.build.args = [...j.build.args, '-DX=1\n\trm -rf /'];
    });
    const home = mkdtempSync(path.join(tmpdir(), 'nf-faults-home-'));
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'plan', '--recipes', dir], { reject: false, env: { NGINX_FORGE_HOME: home, CI: '1' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/zlib-ng\.json: build\.env\["X;touch \/tmp\/pwned;Y"\]: bad key: "X;touch \/tmp\/pwned;Y" is not an environment variable name: letters, digits and "_"/);
    expect(r.stderr).toMatch(/zlib-ng\.json: build\.args\[\d+\]: "-DX=1\\n\\trm -rf \/" contains a newline/);
    expect(r.stderr).not.toMatch(/internal error|    at /);
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
