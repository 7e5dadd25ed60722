// `nginx-forge test` through the CLI: bad input and fetch problems are clear errors with their
// exit codes (2, 3) before anything runs; the suite is verified by its tree hash on the way in.
// The one test that needs the real suite fetches it through the tool from the tests' mirror
// (test/helpers/mirror.ts), or from its upstream URL when there is none (a user's clone).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveMirror } from '../src/flags/fetch.ts';
import { PROJECT_ROOT } from '../src/recipes/load.ts';
import { CLI } from './helpers/builtNginx.ts';
import { startServer } from './helpers/httpServer.ts';
import { mirrorDescription, TEST_MIRROR, testMirror } from './helpers/mirror.ts';
import { copyRecipes, editJson } from './helpers/recipes.ts';

const SNAPSHOT = 'nginx-tests-76bb761cdcaeb6cb024d605c2ef91bf8d8a602d7.tar.gz';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'nf-test-cmd-'));
  dirs.push(d);
  return d;
};
const cli = (args: string[], home: string) =>
  execa(process.execPath, [CLI, ...args], { cwd: PROJECT_ROOT, reject: false, env: { NGINX_FORGE_HOME: home, NGINX_FORGE_DISTDIR: path.join(home, 'distfiles') }, timeout: 120_000 });

/** A stand-in binary that answers -V like nginx (for the checks that run before the suite). */
function fakeNginx(dir: string): string {
  const p = path.join(dir, 'nginx');
  writeFileSync(p, '#!/bin/sh\necho "nginx version: nginx/1.26.3" >&2\necho "configure arguments: --with-http_ssl_module" >&2\n');
  chmodSync(p, 0o755);
  return p;
}

describe('nginx-forge test: errors before the suite runs', () => {
  it('a binary that does not exist: exit 2', async () => {
    const home = tmp();
    const r = await cli(['test', path.join(home, 'nope', 'nginx')], home);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/nginx-forge: error: .*nope\/nginx: no such file/);
  });

  it('a file that is not nginx: exit 2', async () => {
    const home = tmp();
    const r = await cli(['test', '/bin/true'], home);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('does not print an nginx version');
  });

  it('--jobs 0: exit 2', async () => {
    const home = tmp();
    const r = await cli(['test', fakeNginx(home), '--jobs', '0'], home);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--jobs 0: must be a whole number from 1 to 64');
  });

  it('offline without the suite in the store: exit 3 naming the file', async () => {
    const home = tmp();
    const r = await cli(['test', fakeNginx(home), '--offline'], home);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain(SNAPSHOT);
  });

  it('a mirror whose copy is not the pinned tree: exit 3 with both tree hashes, nothing stored', async () => {
    const home = tmp();
    const mirror = path.join(home, 'mirror');
    mkdirSync(mirror);
    // a real tar.gz with the right top directory, but other files
    const top = path.join(home, 'src', SNAPSHOT.replace(/\.tar\.gz$/, ''));
    mkdirSync(top, { recursive: true });
    writeFileSync(path.join(top, 'README'), 'not the suite\n');
    await execa('tar', ['-czf', path.join(mirror, SNAPSHOT), '-C', path.dirname(top), path.basename(top)]);
    // hermetic: the recipe's upstream is a local server with the same wrong archive (with the
    // network, the real upstream would succeed and the suite would run against the fake nginx)
    const server = await startServer();
    try {
      server.on(`/${SNAPSHOT}`, { kind: 'bytes', body: readFileSync(path.join(mirror, SNAPSHOT)) });
      const recipes = copyRecipes('nf-test-cmd-recipes-');
      dirs.push(path.dirname(recipes));
      editJson(path.join(recipes, 'testsuites', 'nginx-tests.json'), (j) => (j.artifact.urls = [`${server.url}/${SNAPSHOT}`]));
      const r = await cli(['test', fakeNginx(home), '--recipes', recipes, '--mirror', mirror, '--no-distro'], home);
      expect(r.exitCode).toBe(3);
      expect(server.count(`/${SNAPSHOT}`)).toBeGreaterThan(0);
      expect(r.stderr).toMatch(/tree sha256 mismatch[\s\S]*expected: 497cbb0a74e904fb117fb23bd5c868eaf632741535194dc60a0f4651791913be/);
      expect(r.stderr).toContain('could not fetch');
      expect(existsSync(path.join(home, 'distfiles', 'tree-497cbb0a74e904fb117fb23bd5c868eaf632741535194dc60a0f4651791913be'))).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('--files matching no file: exit 2, with the suite fetched (the tests\' mirror, else upstream) and verified', async () => {
    const home = tmp();
    // a mirror directory is given relative to the working directory, as a user types it
    const mirror = TEST_MIRROR && !/^[a-z][a-z0-9+.-]*:/i.test(TEST_MIRROR) ? path.relative(PROJECT_ROOT, TEST_MIRROR) : TEST_MIRROR;
    const r = await cli(['test', fakeNginx(home), ...(mirror ? ['--mirror', mirror] : []), '--files', 'nomatch*.t'], home);
    expect(r.exitCode, `suite from ${mirrorDescription()}:\n${r.stderr}`).toBe(2);
    expect(r.stderr).toContain('--files nomatch*.t: matches none of the suite\'s 492 files');
    expect(r.stderr).toMatch(/stored .*tree-497cbb0a/);
  });

  it('a selection that is entirely skipped fails (exit 9), naming every file and why it skipped', async () => {
    // the stand-in nginx builds no http_v3: every h3/quic file skips, so nothing is tested
    const home = tmp();
    const logs = path.join(home, 'logs');
    const r = await cli(['test', fakeNginx(home), ...(TEST_MIRROR ? ['--mirror', TEST_MIRROR] : []), '--logs', logs, '--json', '--files', 'h3*.t', 'quic*.t'], home);
    expect(r.exitCode, r.stderr).toBe(9);
    expect(r.stderr).toMatch(/: FAIL\n/);
    expect(r.stderr).toMatch(/files: 23 selected, 0 ran, 0 passed, 0 failed, 23 skipped/);
    expect(r.stderr).toMatch(/module not built into this nginx\s+23\s+http_v3 22, http_v2\n/);
    expect(r.stderr).toContain('every selected file was skipped (23 of 23): nothing was tested, so the run fails; the reasons are above');
    const report = JSON.parse(r.stdout) as { ok: boolean; allSkipped: boolean; skipped: { module: { file: string; reason: string }[] } };
    expect(report).toMatchObject({ ok: false, allSkipped: true });
    expect(report.skipped.module).toContainEqual({ file: 'quic_retry.t', reason: 'no http_v3 available' });
    expect(JSON.parse(readFileSync(path.join(logs, 'report.json'), 'utf8')).ok).toBe(false);
  });

  it('a relative --mirror directory is resolved against the working directory', () => {
    expect(resolveMirror('../mirror/distfiles')).toBe(path.resolve('../mirror/distfiles'));
    expect(resolveMirror('http://127.0.0.1:8080/d')).toBe('http://127.0.0.1:8080/d');
    expect(resolveMirror('/abs/dir')).toBe('/abs/dir');
  });
});

describe('the tests\' mirror (test/helpers/mirror.ts): one decision for every test', () => {
  it('NGINX_FORGE_TEST_MIRROR if set, else CI\'s distfiles folder if it exists, else none (upstream)', () => {
    const home = tmp();
    const ci = path.join(home, 'distfiles');
    expect(testMirror({}, ci)).toBeUndefined(); // a user's clone: the recipes' upstream URLs
    mkdirSync(ci);
    expect(testMirror({}, ci)).toBe(ci);
    expect(testMirror({ NGINX_FORGE_TEST_MIRROR: 'rel/dir' }, ci)).toBe(path.resolve('rel/dir'));
    expect(testMirror({ NGINX_FORGE_TEST_MIRROR: 'http://127.0.0.1:1/d' }, ci)).toBe('http://127.0.0.1:1/d');
  });
});
