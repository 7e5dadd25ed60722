// Hostile sources against the real local HTTP server: an endless response, a 1-byte-a-while drip,
// a source that never finishes. Each is given up with a clear reason and the NEXT source is tried;
// the size cap holds for artifacts without a pinned size; `fetch` shows progress in plain output
// at a steady interval.
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchArtifact, SourcesExhaustedError, storePath, type FetchOptions } from '../src/fetch/index.ts';
import { BUILTIN_RECIPES, loadRecipes, PROJECT_ROOT } from '../src/recipes/load.ts';
import type { FileArtifact } from '../src/recipes/schema.ts';
import { startServer, type TestServer } from './helpers/httpServer.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const DATA = randomBytes(200_000);

let server: TestServer;
let tmp: string;
let distdir: string;
let logs: string[];

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-faults-fetch-'));
  distdir = path.join(tmp, 'distfiles');
  logs = [];
  server.reset();
  server.on('/good/pkg.tgz', { kind: 'bytes', body: DATA });
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const artifact = (urls: string[], extra: Partial<FileArtifact> = {}): FileArtifact => ({ file: 'pkg.tgz', sha256: sha(DATA), urls, ...extra });
const opts = (extra: Partial<FetchOptions> = {}): FetchOptions => ({ distdir, timeoutMs: 2_000, retries: 2, backoffMs: 10, distro: false, onLog: (l) => logs.push(l), ...extra });

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('size cap', () => {
  it('an endless response for an artifact without a pinned size stops at the cap; the next source delivers', async () => {
    server.on('/endless/pkg.tgz', { kind: 'endless' });
    const p = await fetchArtifact(artifact([`${server.url}/endless/pkg.tgz`, `${server.url}/good/pkg.tgz`]), opts({ maxBytes: 1_000_000 }));
    expect(p).toBe(storePath(distdir, { file: 'pkg.tgz', sha256: sha(DATA) }));
    const gaveUp = logs.find((l) => l.includes('/endless/'));
    expect(logs.join('\n')).toMatch(/endless\/pkg\.tgz: more than 976\.6 KiB .* the cap for an artifact without a pinned size.*; trying the next source/);
    expect(gaveUp).toBeDefined();
    // nothing of the endless response is kept
    expect(existsSync(path.join(distdir, '.partial')) ? readdirSync(path.join(distdir, '.partial')) : []).toEqual([]);
    // not retried: the cap is not a transient failure
    expect(server.count('/endless/pkg.tgz')).toBe(1);
  });

  it('Content-Length above the cap is refused before any byte is written', async () => {
    const big = randomBytes(300_000);
    server.on('/big/pkg.tgz', { kind: 'bytes', body: big });
    const e = await caught(fetchArtifact(artifact([`${server.url}/big/pkg.tgz`]), opts({ maxBytes: 100_000 })));
    expect(e).toBeInstanceOf(SourcesExhaustedError);
    expect(e.message).toMatch(/server announces 300000 bytes, more than 97\.7 KiB/);
  });

  it('the default cap is documented and a pinned size always wins', async () => {
    const { DOWNLOAD_LIMITS } = await import('../src/fetch/index.ts');
    expect(DOWNLOAD_LIMITS.maxBytes).toBe(512 * 1024 ** 2);
    expect(readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8')).toMatch(/512 MiB/);
    // pinned smaller than what the server sends: refused at the pinned size, even under a larger cap
    server.on('/more/pkg.tgz', { kind: 'endless' });
    const e = await caught(fetchArtifact(artifact([`${server.url}/more/pkg.tgz`], { size: DATA.length }), opts({ maxBytes: 10_000_000 })));
    expect(e.message).toMatch(/server sent more than the pinned 200000 bytes/);
  });

  it('every artifact the shipped profiles fetch by default pins its size (and its signature\'s)', () => {
    const r = loadRecipes();
    for (const profile of r.profiles.values()) {
      for (const [name, pin] of Object.entries(profile.recipe.components)) {
        const v = r.components.get(name as never)!.recipe.versions[pin.version]!;
        // the first artifact reachable here (a distro source) and the patch sets are what gets fetched
        const reachable = v.artifacts.filter((a) => a.distro);
        for (const a of [...reachable, ...v.patchSets.map((s) => s.artifact)]) {
          expect(a.size, `${name} ${pin.version} ${a.file}`).toBeGreaterThan(0);
          if (a.signature) expect(a.signature.size, `${a.file} signature`).toBeGreaterThan(0);
        }
      }
    }
  });
});

describe('local mirrors: the same caps as HTTP', () => {
  it('a character device (/dev/zero) or a FIFO in a mirror is refused at once, and the next source delivers', async () => {
    const mirror = path.join(tmp, 'mirror');
    mkdirSync(mirror);
    symlinkSync('/dev/zero', path.join(mirror, 'pkg.tgz'));
    const fifoMirror = path.join(tmp, 'fifo-mirror');
    mkdirSync(fifoMirror);
    await execa('mkfifo', [path.join(fifoMirror, 'pkg.tgz')]);
    const t0 = Date.now();
    const p = await fetchArtifact(artifact([`${server.url}/good/pkg.tgz`]), opts({ mirrors: [mirror, `file://${fifoMirror}`] }));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(p).toBe(storePath(distdir, { file: 'pkg.tgz', sha256: sha(DATA) }));
    const text = logs.join('\n');
    expect(text).toContain(`${path.join(mirror, 'pkg.tgz')}: not a regular file (a character device); trying the next source`);
    expect(text).toContain(`pkg.tgz: not a regular file (a FIFO); trying the next source`);
    expect(existsSync(path.join(distdir, '.partial')) ? readdirSync(path.join(distdir, '.partial')) : []).toEqual([]);
  }, 20_000);
});

describe('redirects', () => {
  it('a redirect loop and a too long chain are one clear reason each, not retried, and not undici\'s developer message', async () => {
    server.on('/loop/pkg.tgz', { kind: 'redirect', to: '/loop/pkg.tgz' });
    for (let i = 0; i < 12; i++) server.on(`/chain/${i}`, { kind: 'redirect', to: `/chain/${i + 1}` });
    const e = await caught(fetchArtifact(artifact([`${server.url}/loop/pkg.tgz`, `${server.url}/chain/0`]), opts()));
    expect(e).toBeInstanceOf(SourcesExhaustedError);
    expect(e.message).toContain(`${server.url}/loop/pkg.tgz\n    a redirect loop: it leads back to a URL it already redirected from`);
    expect(e.message).toContain(`${server.url}/chain/0\n    too many redirects (more than 8): not a download URL, or a redirect loop`);
    expect(e.message).not.toMatch(/UND_ERR|Client or Pool|Use an Agent/);
    expect(logs.filter((l) => /retry \d/.test(l))).toEqual([]);
    expect(server.count('/chain/0')).toBe(1);
  });
});

describe('slow sources: minimum rate and deadline, then the next source', () => {
  it('a source dripping a few bytes at a time is given up for the next one', async () => {
    server.on('/drip/pkg.tgz', { kind: 'drip', body: DATA, bytesPerTick: 10, tickMs: 50 });
    const started = Date.now();
    const p = await fetchArtifact(artifact([`${server.url}/drip/pkg.tgz`, `${server.url}/good/pkg.tgz`], { size: DATA.length }), opts({ minRateBytes: 10_000, minRateWindowMs: 600 }));
    expect(sha(await readFile(p))).toBe(sha(DATA));
    expect(logs.join('\n')).toMatch(/drip\/pkg\.tgz: too slow: [\d.]+ B\/s over the last [\d.]+ s \(minimum 9\.8 KiB\/s\).*; trying the next source/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(server.count('/drip/pkg.tgz')).toBe(1); // not retried on the same source
  });

  it('a source that keeps sending but never finishes hits the deadline per source', async () => {
    // fast enough for the rate rule, never done
    server.on('/forever/pkg.tgz', { kind: 'endless', chunk: 4096, tickMs: 20 });
    const e = await caught(
      fetchArtifact(artifact([`${server.url}/forever/pkg.tgz`]), opts({ deadlineMs: 800, minRateBytes: 1, minRateWindowMs: 60_000, maxBytes: 1e9 })),
    );
    expect(e).toBeInstanceOf(SourcesExhaustedError);
    expect(e.message).toMatch(/forever\/pkg\.tgz\n\s+gave up after [\d.]+ s, the deadline per source/);
  });

  it('a source that sends nothing after the headers is a timeout, and the next source is tried', async () => {
    server.on('/stall/pkg.tgz', { kind: 'stall', body: DATA, after: 100 });
    const p = await fetchArtifact(artifact([`${server.url}/stall/pkg.tgz`, `${server.url}/good/pkg.tgz`], { size: DATA.length }), opts({ timeoutMs: 300, retries: 0 }));
    expect((await stat(p)).size).toBe(DATA.length);
  });
});

describe('fetch command: progress in plain output at a steady interval', () => {
  it('a dripping download shows progress lines while it runs', async () => {
    const recipes = path.join(tmp, 'recipes');
    cpSync(BUILTIN_RECIPES, recipes, { recursive: true });
    const dir = path.join(recipes, 'components');
    for (const f of readdirSync(dir)) {
      const recipe = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
      for (const v of Object.values(recipe.versions) as { artifacts: any[]; patchSets?: { artifact: any }[] }[]) {
        for (const a of [...v.artifacts, ...(v.patchSets ?? []).map((s) => s.artifact)]) {
          const body = randomBytes(6_000);
          a.sha256 = sha(body);
          a.size = body.length;
          a.urls = [`${server.url}/p/${encodeURIComponent(a.file)}`];
          delete a.distro;
          delete a.signature;
          server.on(`/p/${encodeURIComponent(a.file)}`, a.file.startsWith('nginx-') ? { kind: 'drip', body, bytesPerTick: 1000, tickMs: 300 } : { kind: 'bytes', body });
        }
      }
      writeFileSync(path.join(dir, f), JSON.stringify(recipe, null, 2));
    }
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs'), 'fetch', '--recipes', recipes, '--distdir', distdir, '--no-distro'], {
      reject: false,
      env: { CI: '1', NGINX_FORGE_HOME: path.join(tmp, 'home'), NGINX_FORGE_PROGRESS_MS: '400' },
    });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const lines = String(r.stderr)
      .split('\n')
      .filter((l) => /nginx-1\.26\.3\.tar\.gz: [\d.]+ (B|KiB) \/ 5\.86 KiB \(\d+%\), [\d.]+ (B|KiB)\/s from http/.test(l));
    expect(lines.length, String(r.stderr)).toBeGreaterThanOrEqual(2);
  });
});
