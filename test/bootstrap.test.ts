// A version whose archive has no generated configure (recipe versions.<v>.bootstrap: Debian's orig
// tarball of jemalloc 5.3.1 is a git-tag archive without configure and VERSION): the library stage
// writes the recipe's files, runs the tool, then configure, and checks what configure wrote. The
// project below is a tiny real autoconf project made here (real autoconf, real configure), not jemalloc.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecipeError, StageError } from '../src/errors.ts';
import { component, type PlanComponent } from '../src/plan.ts';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { Bootstrap, BuildSpec } from '../src/recipes/schema.ts';
import { buildLibrary } from '../src/stages/library.ts';
import { libraryCommands } from '../src/recipes/commands.ts';
import { targetOf } from '../src/target.ts';
import { copyRecipes, editJson } from './helpers/recipes.ts';

/** A git-tag-like tree: configure.ac and templates, no configure; configure reads VERSION as jemalloc's does, else writes a bogus version. */
function tagArchive(): string {
  const src = mkdtempSync(path.join(tmpdir(), 'nf-bootstrap-'));
  writeFileSync(path.join(src, 'configure.ac'), [
    'AC_INIT([tiny], [0])',
    'if test -e VERSION ; then tiny_version=`cat VERSION` ; else tiny_version=0.0.0-0-g000000missing_version ; fi',
    'AC_SUBST([tiny_version])',
    'AC_CONFIG_FILES([version.h Makefile])',
    'AC_OUTPUT',
    '',
  ].join('\n'));
  writeFileSync(path.join(src, 'version.h.in'), '#define TINY_VERSION "@tiny_version@"\n');
  writeFileSync(path.join(src, 'Makefile.in'), 'libtiny.a: version.h\n\tcp version.h libtiny.a\n');
  return src;
}

function tiny(bootstrap: unknown): PlanComponent {
  const je = component(resolvePlan(loadRecipes(), 'ktls'), 'jemalloc');
  const { cross: _, ...build } = BuildSpec.parse({ system: 'configure', targets: ['libtiny.a'], copy: ['libtiny.a', 'version.h'], produces: ['libtiny.a'] });
  return { ...je, name: 'tiny', version: '1.2.3', options: [], build: { ...build, bootstrap: Bootstrap.parse(bootstrap) } };
}

const run = (c: PlanComponent, src: string) => buildLibrary({ component: c, srcDir: src, out: path.join(src, 'out'), jobs: [], env: {}, log: path.join(src, 'log') });
const expectVersion = { file: 'version.h', contains: '#define TINY_VERSION "1.2.3-0-gabc"' };
const reason = 'a git-tag archive: no configure, no VERSION';

describe('versions.<v>.bootstrap: a source archive without a generated configure', () => {
  it('the library stage writes the files, runs autoconf, then configure, and checks what configure wrote', async () => {
    const src = tagArchive();
    expect(existsSync(path.join(src, 'configure'))).toBe(false);
    await run(tiny({ files: { VERSION: '1.2.3-0-gabc' }, run: 'autoconf', expect: expectVersion, reason }), src);
    expect(readFileSync(path.join(src, 'VERSION'), 'utf8')).toBe('1.2.3-0-gabc\n');
    expect(existsSync(path.join(src, 'configure'))).toBe(true);
    expect(readFileSync(path.join(src, 'out', 'version.h'), 'utf8')).toContain(expectVersion.contains);
    const log = readFileSync(path.join(src, 'log'), 'utf8');
    expect(log.indexOf('&& autoconf)')).toBeGreaterThan(-1);
    expect(log.indexOf('&& autoconf)')).toBeLessThan(log.indexOf('&& ./configure --prefix=/usr)'));
  });

  it('a configure that did not read the files (a bogus version) fails the stage, naming the file and the recipe field', async () => {
    const src = tagArchive();
    const err = await run(tiny({ run: 'autoconf', expect: expectVersion, reason }), src).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StageError);
    expect(String((err as Error).message)).toContain(`did not write "${expectVersion.contains}" into version.h`);
    expect(String((err as StageError).hint)).toContain('"versions.1.2.3.bootstrap.expect" in recipes/components/tiny.json');
    expect(readFileSync(path.join(src, 'version.h'), 'utf8')).toContain('0.0.0-0-g000000missing_version');
  });

  it('recipe errors name the file and field: an unknown tool, a file outside the tree, a bootstrap on a CMake build', () => {
    const dir = copyRecipes('nf-bootstrap-recipes-');
    editJson(path.join(dir, 'components/jemalloc.json'), (j) => {
      j.versions['5.3.1'].bootstrap.run = 'automake';
      j.versions['5.3.1'].bootstrap.files = { '../VERSION': '5.3.1-0-gabc', 'EMPTY': '' };
    });
    editJson(path.join(dir, 'components/zlib-ng.json'), (j) => {
      (Object.values(j.versions)[0] as any).bootstrap = { run: 'autoconf', reason };
    });
    let lines: string[] = [];
    try {
      loadRecipes(dir);
    } catch (e) {
      expect(e).toBeInstanceOf(RecipeError);
      lines = (e as Error).message.split('\n');
    }
    const want: [RegExp, RegExp][] = [
      [/jemalloc\.json: versions\["5\.3\.1"\]\.bootstrap\.run: /, /"automake" is not a bootstrap tool nginx-forge knows \(known: autoconf\)/],
      [/jemalloc\.json: versions\["5\.3\.1"\]\.bootstrap\.files.*: /, /contains "\.\.": it must stay inside the source tree/],
      [/jemalloc\.json: versions\["5\.3\.1"\]\.bootstrap\.files\.EMPTY: /, /must not be empty/],
    ];
    for (const [where, what] of want) {
      const line = lines.find((l) => where.test(l));
      expect(line, `${where} in:\n${lines.join('\n')}`).toBeDefined();
      expect(line).toMatch(what);
    }
    // pass 2 (the schema holds): a bootstrap belongs to a configure build
    editJson(path.join(dir, 'components/jemalloc.json'), (j) => {
      j.versions['5.3.1'].bootstrap.run = 'autoconf';
      j.versions['5.3.1'].bootstrap.files = { VERSION: '5.3.1-0-gabc' };
    });
    expect(() => loadRecipes(dir)).toThrow(/zlib-ng\.json: versions\["[^"]+"\]\.bootstrap: generates a configure script, but zlib-ng is built with cmake/);
  });

  it('jemalloc 5.3.1: VERSION and autoconf, then configure with the cross data of an arm64 build (--host, --with-lg-page=16), checked against the VERSION line', () => {
    const je = (target?: string) => component(resolvePlan(loadRecipes(), 'ktls', { target }), 'jemalloc');
    const cross = libraryCommands(je('aarch64-linux-gnu'), { jobs: [], target: targetOf('aarch64-linux-gnu', 'test') });
    expect(cross.slice(0, 2).map((c) => [c.step, c.cmd])).toEqual([['bootstrap', 'autoconf'], ['configure', './configure']]);
    expect(cross[0]!.files).toEqual({ VERSION: '5.3.1-0-g81034ce1f1373e37dc865038e1bc8eeecf559ce8\n' });
    expect(cross[1]!.args).toEqual(expect.arrayContaining(['--host=aarch64-linux-gnu', '--with-lg-page=16']));
    expect(cross[1]!.expect).toEqual({ file: 'include/jemalloc/jemalloc.h', contains: '#define JEMALLOC_VERSION "5.3.1-0-g81034ce1f1373e37dc865038e1bc8eeecf559ce8"' });
    // the release tarball of 5.3.0 has its configure: no bootstrap step
    const old = component(resolvePlan(loadRecipes(), 'ktls', { set: ['jemalloc=5.3.0'] }), 'jemalloc');
    expect(libraryCommands(old, { jobs: [] }).map((c) => c.step)).toEqual(['configure', 'make', 'make']);
  });

  it("the tool's version goes into that library's key only: every other key is the same with another autoconf or none", () => {
    const recipes = loadRecipes();
    const plan = (autoconf?: string, set?: string[]) => resolvePlan(recipes, 'ktls', { set, toolchain: { cc: 'cc 1' }, ...(autoconf ? { bootstrapTools: { autoconf } } : {}) });
    const a = plan('autoconf (GNU Autoconf) 2.71');
    const b = plan('autoconf (GNU Autoconf) 2.72');
    const changed = a.stages.filter((s, i) => s.key !== b.stages[i]!.key).map((s) => s.id);
    expect(changed[0]).toBe('library:jemalloc');
    for (const other of ['library:openssl', 'library:pcre2', 'library:zlib-ng', 'fetch:jemalloc', 'extract:jemalloc', 'patch:jemalloc']) expect(changed).not.toContain(other);
    expect(a.stages.find((s) => s.id === 'library:jemalloc')!.keyInputs.inputs).toMatchObject({ bootstrapTool: 'autoconf (GNU Autoconf) 2.71', build: { bootstrap: { run: 'autoconf' } } });
    for (const s of a.stages.filter((x) => x.id !== 'library:jemalloc')) expect(JSON.stringify(s.keyInputs.inputs ?? null), s.id).not.toContain('Autoconf');
    // a version without a bootstrap: no tool in any key, whatever autoconf the host has
    const old = [plan('autoconf (GNU Autoconf) 2.71', ['jemalloc=5.3.0']), plan(undefined, ['jemalloc=5.3.0'])];
    expect(old[0]!.stages.map((s) => s.key)).toEqual(old[1]!.stages.map((s) => s.key));
    expect(old[0]!.stages.find((s) => s.id === 'library:jemalloc')!.keyInputs.inputs).not.toHaveProperty('bootstrapTool');
  });
});
