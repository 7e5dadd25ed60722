// Ctrl-C and SIGTERM, sent to a real `nginx-forge build` / `fetch` child process while a download
// hangs on the local HTTP server: one message, exit 130, no lock left behind, and a rerun works.
// Also: a download killed with -9 leaves a lock whose holder is dead; the next run takes it over
// at once instead of waiting.
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUILTIN_RECIPES, PROJECT_ROOT } from '../src/recipes/load.ts';
import { startServer, type TestServer } from './helpers/httpServer.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let server: TestServer;
let tmp: string;
let recipes: string;
const files = new Map<string, Buffer>();

beforeAll(async () => {
  server = await startServer();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-faults-int-'));
  recipes = path.join(tmp, 'recipes');
  cpSync(BUILTIN_RECIPES, recipes, { recursive: true });
  const dir = path.join(recipes, 'components');
  for (const f of readdirSync(dir)) {
    const recipe = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
    for (const v of Object.values(recipe.versions) as { artifacts: any[]; patchSets?: { artifact: any }[] }[]) {
      for (const a of [...v.artifacts, ...(v.patchSets ?? []).map((s) => s.artifact)]) {
        const body = randomBytes(200_000);
        files.set(a.file, body);
        a.sha256 = sha(body);
        a.size = body.length;
        a.urls = [`${server.url}/dl/${encodeURIComponent(a.file)}`];
        delete a.distro;
        delete a.signature;
      }
    }
    writeFileSync(path.join(dir, f), JSON.stringify(recipe, null, 2));
  }
});
afterAll(async () => {
  await server.close();
  await rm(tmp, { recursive: true, force: true });
});

/** every file: headers and 1000 bytes, then nothing (a hanging download) */
function stallAll() {
  for (const [f, body] of files) server.on(`/dl/${encodeURIComponent(f)}`, { kind: 'stall', body, after: 1000 });
}
function serveAll() {
  for (const [f, body] of files) server.on(`/dl/${encodeURIComponent(f)}`, { kind: 'bytes', body });
}

let state: string;
beforeEach(async () => {
  state = await mkdtemp(path.join(tmp, 'state-'));
  server.reset();
});

const forge = (args: string[]): ResultPromise =>
  execa('node', [path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs'), ...args, '--recipes', recipes, '--no-distro'], {
    reject: false,
    env: { CI: '1', NGINX_FORGE_HOME: state },
  });

async function until(cond: () => boolean, ms = 30_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const locksIn = (distdir: string) => (existsSync(path.join(distdir, '.locks')) ? readdirSync(path.join(distdir, '.locks')) : []);

describe('one interrupt path: message, cleanup, exit 130, locks released', () => {
  for (const [cmd, sig] of [
    ['build', 'SIGINT'],
    ['build', 'SIGTERM'],
    ['fetch', 'SIGINT'],
    ['fetch', 'SIGTERM'],
  ] as const) {
    it(`${cmd} + ${sig}`, async () => {
      stallAll();
      const distdir = path.join(state, 'distfiles');
      const child = forge([cmd, '--profile', 'ktls', ...(cmd === 'build' ? ['--no-smoke', '--out', `${state}-dist`] : [])]);
      // wait until downloads hang (the lock is held then)
      await until(() => server.count() >= 1 && locksIn(distdir).some((f) => f.endsWith('.lock')));
      child.kill(sig);
      const r = await child;
      expect(r.exitCode, String(r.stderr)).toBe(130);
      expect(r.stderr).toMatch(new RegExp(`${sig === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'}: stopping ${cmd}`));
      expect(r.stderr).toMatch(new RegExp(`error: ${cmd} interrupted \\(${sig}\\)`));
      expect(r.stderr).toMatch(/run the same command again/);
      expect(r.stderr).not.toMatch(/internal error/);
      // no lock survives (nor the temp files of one)
      expect(locksIn(distdir)).toEqual([]);
      // and a rerun (now the server answers) completes without waiting for anyone
      if (cmd === 'fetch') {
        serveAll();
        const again = await forge(['fetch', '--profile', 'ktls']);
        expect(again.exitCode, String(again.stderr)).toBe(0);
        expect(again.stderr).not.toMatch(/another download of it is running/);
      }
    });
  }
});

describe('stale locks', () => {
  it('a download killed with -9: the next fetch takes its lock over at once', async () => {
    stallAll();
    const distdir = path.join(state, 'distfiles');
    const child = forge(['fetch', '--profile', 'ktls', '--jobs', '1']);
    await until(() => locksIn(distdir).some((f) => f.endsWith('.lock')));
    const held = locksIn(distdir).filter((f) => f.endsWith('.lock'));
    const owner = JSON.parse(readFileSync(path.join(distdir, '.locks', held[0]!), 'utf8'));
    expect(owner.pid).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await child;
    // the lock stays behind (the holder could not clean up) ...
    expect(locksIn(distdir)).toEqual(held);
    serveAll();
    const started = Date.now();
    const again = await forge(['fetch', '--profile', 'ktls']);
    expect(again.exitCode, String(again.stderr)).toBe(0);
    // ... and is taken over at once: no "another download" wait (the old rule waited 15 s)
    expect(again.stderr).not.toMatch(/another download of it is running/);
    expect(Date.now() - started).toBeLessThan(14_000);
    expect(locksIn(distdir)).toEqual([]);
  });
});
