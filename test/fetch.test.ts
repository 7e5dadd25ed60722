// Downloads against a real local HTTP server (test/helpers/httpServer.ts): verification,
// fallbacks, resume, timeouts, offline, store, locking, distro discovery. Nothing is mocked.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FetchError, HashMismatchError } from '../src/errors.ts';
import {
  aptArchives,
  fetchArtifact,
  fetchArtifactResult,
  fetchOneOf,
  inStore,
  OfflineMissingError,
  SourcesExhaustedError,
  storePath,
  type FetchOptions,
} from '../src/fetch/index.ts';
import { lockPath } from '../src/fetch/store.ts';
import { fetchPlanSources, pool } from '../src/fetch/plan.ts';
import type { BuildPlan } from '../src/plan.ts';
import type { FileArtifact } from '../src/recipes/schema.ts';
import { startServer, type TestServer } from './helpers/httpServer.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const DATA = randomBytes(300_000);
const SHA = sha(DATA);
const CORRUPT = Buffer.from(DATA);
CORRUPT[1000] = CORRUPT[1000]! ^ 0xff;

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
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-fetch-test-'));
  distdir = path.join(tmp, 'distfiles');
  logs = [];
  server.reset();
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function artifact(urls: string[], extra: Partial<FileArtifact> = {}): FileArtifact {
  return { file: 'pkg-1.0.tar.gz', sha256: SHA, size: DATA.length, urls, ...extra };
}

/** Fast settings: tiny timeouts and backoff; no distro lookups unless a test asks for them. */
function opts(extra: Partial<FetchOptions> = {}): FetchOptions {
  return { distdir, timeoutMs: 400, retries: 2, backoffMs: 10, distro: false, onLog: (l) => logs.push(l), ...extra };
}

async function expectVerified(p: string) {
  expect(p).toBe(storePath(distdir, { file: 'pkg-1.0.tar.gz', sha256: SHA }));
  expect(sha(await readFile(p))).toBe(SHA);
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const partials = async () => (existsSync(path.join(distdir, '.partial')) ? readdir(path.join(distdir, '.partial')) : []);

describe('sources and verification', () => {
  it('rejects a corrupt body (naming URL, expected and actual sha256), deletes it, and uses the next source', async () => {
    server.on('/bad/pkg.tgz', { kind: 'bytes', body: CORRUPT });
    server.on('/good/pkg.tgz', { kind: 'bytes', body: DATA });
    const bad = `${server.url}/bad/pkg.tgz`;
    const p = await fetchArtifact(artifact([bad, `${server.url}/good/pkg.tgz`]), opts());
    await expectVerified(p);
    const line = logs.find((l) => l.includes('sha256 mismatch'));
    expect(line).toBeDefined();
    expect(line).toContain(bad);
    expect(line).toContain(SHA);
    expect(line).toContain(sha(CORRUPT));
    expect(server.count('/bad/pkg.tgz')).toBe(1); // a mismatch is not retried
    expect(server.count('/good/pkg.tgz')).toBe(1);
    expect(await partials()).toEqual([]);
  });

  it('a single corrupt source fails with one error listing it, and stores nothing', async () => {
    server.on('/bad/pkg.tgz', { kind: 'bytes', body: CORRUPT });
    const bad = `${server.url}/bad/pkg.tgz`;
    const e = await caught(fetchArtifact(artifact([bad]), opts()));
    expect(e).toBeInstanceOf(SourcesExhaustedError);
    expect(e).toBeInstanceOf(FetchError);
    expect(e.message).toContain(bad);
    expect(e.message).toContain(`expected: ${SHA}`);
    expect(e.message).toContain(`actual:   ${sha(CORRUPT)}`);
    expect((e as FetchError).hint).toMatch(/--mirror/);
    expect((e as FetchError).hint).toContain(path.join(distdir, SHA));
    expect(await inStore(distdir, artifact([]))).toBeUndefined();
    expect(existsSync(path.join(distdir, SHA))).toBe(false);
    expect(await partials()).toEqual([]);
  });

  it('HashMismatchError has the documented message shape', () => {
    const e = new HashMismatchError('http://h/x', 'a'.repeat(64), 'b'.repeat(64), 'x.tgz');
    expect(e.message).toContain('http://h/x');
    expect(e.message).toContain('a'.repeat(64));
    expect(e.message).toContain('b'.repeat(64));
  });

  it('a 404 mirror goes to the next source at once (no retries)', async () => {
    server.on('/up/pkg.tgz', { kind: 'bytes', body: DATA });
    const p = await fetchArtifact(artifact([`${server.url}/up/pkg.tgz`]), opts({ mirrors: [`${server.url}/mirror/`] }));
    await expectVerified(p);
    expect(server.count('/mirror/pkg-1.0.tar.gz')).toBe(1);
    expect(server.requests.map((r) => r.path)).toEqual(['/mirror/pkg-1.0.tar.gz', '/up/pkg.tgz']);
  });

  it('user mirrors come before upstream; the file is looked up by its artifact name', async () => {
    server.on('/mirror/pkg-1.0.tar.gz', { kind: 'bytes', body: DATA });
    server.on('/up/pkg.tgz', { kind: 'bytes', body: DATA });
    const r = await fetchArtifactResult(artifact([`${server.url}/up/pkg.tgz`]), opts({ mirrors: [`${server.url}/mirror`] }));
    expect(r.status).toBe('stored');
    expect(r.source).toBe(`${server.url}/mirror/pkg-1.0.tar.gz`);
    expect(server.count('/up/pkg.tgz')).toBe(0);
  });

  it('follows redirects (release download URLs usually redirect)', async () => {
    server.on('/releases/pkg.tgz', { kind: 'redirect', to: '/objects/abc' });
    server.on('/objects/abc', { kind: 'bytes', body: DATA });
    const p = await fetchArtifact(artifact([`${server.url}/releases/pkg.tgz`]), opts());
    await expectVerified(p);
    expect(server.requests.map((r) => r.path)).toEqual(['/releases/pkg.tgz', '/objects/abc']);
  });

  it('a local directory works as a mirror (path or file:// URL), without any HTTP request', async () => {
    const dir = path.join(tmp, 'local-mirror');
    await mkdir(dir);
    await writeFile(path.join(dir, 'pkg-1.0.tar.gz'), DATA);
    server.on('/up/pkg.tgz', { kind: 'bytes', body: DATA });
    for (const m of [dir, `file://${dir}`]) {
      await rm(distdir, { recursive: true, force: true });
      const r = await fetchArtifactResult(artifact([`${server.url}/up/pkg.tgz`]), opts({ mirrors: [m] }));
      expect(r.status).toBe('stored');
      await expectVerified(r.path);
    }
    expect(server.count()).toBe(0);
  });

  it('retries 5xx with backoff and then succeeds on the same source', async () => {
    server.on('/flaky/pkg.tgz', { kind: 'flaky', failures: 2, then: { kind: 'bytes', body: DATA } });
    const p = await fetchArtifact(artifact([`${server.url}/flaky/pkg.tgz`]), opts({ retries: 3 }));
    await expectVerified(p);
    expect(server.count('/flaky/pkg.tgz')).toBe(3);
    expect(logs.filter((l) => /HTTP 500.*retry/.test(l))).toHaveLength(2);
  });

  it('recognises an HTML page by Content-Type and by its first bytes', async () => {
    server.on('/login/pkg.tgz', { kind: 'html' });
    server.on('/sneaky/pkg.tgz', { kind: 'html', contentType: 'application/octet-stream' });
    const e = await caught(fetchArtifact(artifact([`${server.url}/login/pkg.tgz`, `${server.url}/sneaky/pkg.tgz`]), opts()));
    expect(e).toBeInstanceOf(SourcesExhaustedError);
    const msg = e.message;
    expect(msg.match(/got an HTML page, not pkg-1\.0\.tar\.gz: probably an error or login page/g)).toHaveLength(2);
    expect(msg).toContain(`${server.url}/login/pkg.tgz`);
    expect(msg).toContain(`${server.url}/sneaky/pkg.tgz`);
    expect(server.count()).toBe(2); // neither is retried
    expect(await partials()).toEqual([]);
  });

  it('recognises an HTML body even when nothing else gives it away (no pinned size, binary Content-Type)', async () => {
    server.on('/sneaky/pkg.tgz', { kind: 'html', contentType: 'application/octet-stream' });
    const e = await caught(fetchArtifact(artifact([`${server.url}/sneaky/pkg.tgz`], { size: undefined }), opts()));
    expect(e.message).toContain('got an HTML page, not pkg-1.0.tar.gz: probably an error or login page');
    expect(e.message).not.toContain('sha256 mismatch');
    expect(await partials()).toEqual([]);
  });

  it('refuses a file whose size differs from the pinned size before downloading it', async () => {
    server.on('/big/pkg.tgz', { kind: 'bytes', body: Buffer.concat([DATA, Buffer.from('x')]) });
    const e = await caught(fetchArtifact(artifact([`${server.url}/big/pkg.tgz`]), opts()));
    expect(e.message).toContain(`server has ${DATA.length + 1} bytes, the recipe pins ${DATA.length}`);
  });

  it('names every source and what to do when all fail', async () => {
    const e = await caught(
      fetchArtifact(artifact([`${server.url}/nope/pkg.tgz`, 'http://127.0.0.1:9/refused.tgz']), opts({ mirrors: [`${server.url}/m`] })),
    );
    expect(e).toBeInstanceOf(SourcesExhaustedError);
    expect(e.message).toContain('tried 3 sources');
    expect(e.message).toContain(`${server.url}/m/pkg-1.0.tar.gz\n    HTTP 404`);
    expect(e.message).toContain(`${server.url}/nope/pkg.tgz\n    HTTP 404`);
    expect(e.message).toContain('http://127.0.0.1:9/refused.tgz\n    connection refused');
    const hint = (e as FetchError).hint!;
    expect(hint).toContain('--mirror');
    expect(hint).toContain(storePath(distdir, artifact([])));
    expect(hint).toContain('check the recipe');
  });
});

describe('interruptions', () => {
  it('resumes a dropped download with Range: bytes=N- and verifies the whole file', async () => {
    server.on('/drop/pkg.tgz', { kind: 'drop', body: DATA, after: 100_000 });
    const r = await fetchArtifactResult(artifact([`${server.url}/drop/pkg.tgz`]), opts());
    await expectVerified(r.path);
    const reqs = server.requests.filter((q) => q.path === '/drop/pkg.tgz');
    expect(reqs).toHaveLength(2);
    expect(reqs[0]!.headers.range).toBeUndefined();
    expect(reqs[1]!.headers.range).toBe('bytes=100000-');
    expect(r.transferred).toBe(DATA.length - 100_000);
    expect(logs.some((l) => l.includes('resuming') && l.includes('byte 100000'))).toBe(true);
    expect(await partials()).toEqual([]);
  });

  it('keeps the partial file across runs: a later fetch resumes it', async () => {
    server.on('/drop/pkg.tgz', { kind: 'drop', body: DATA, after: 120_000 });
    // no retries: the first run fails, leaving the partial download behind
    const e = await caught(fetchArtifact(artifact([`${server.url}/drop/pkg.tgz`]), opts({ retries: 0 })));
    expect(e.message).toMatch(/connection (lost|closed)/);
    expect(await partials()).toEqual([`${SHA}.part`]);
    const p = await fetchArtifact(artifact([`${server.url}/drop/pkg.tgz`]), opts({ retries: 0 }));
    await expectVerified(p);
    expect(server.requests[1]!.headers.range).toBe('bytes=120000-');
  });

  it('restarts from zero when the server ignores Range (200 instead of 206)', async () => {
    server.on('/norange/pkg.tgz', { kind: 'drop', body: DATA, after: 100_000, range: false });
    const r = await fetchArtifactResult(artifact([`${server.url}/norange/pkg.tgz`]), opts());
    await expectVerified(r.path);
    const reqs = server.requests.filter((q) => q.path === '/norange/pkg.tgz');
    expect(reqs[1]!.headers.range).toBe('bytes=100000-');
    expect(logs.some((l) => l.includes('ignored the Range request'))).toBe(true);
    expect(r.transferred).toBe(DATA.length);
  });

  it('a resumed prefix from a bad source is detected and the download redone from zero', async () => {
    // a bad source leaves a partial of wrong bytes; the good one resumes it, the hash fails,
    // and the good source is asked again from byte 0
    server.on('/bad/pkg.tgz', { kind: 'drop', body: CORRUPT, after: 150_000 });
    server.on('/good/pkg.tgz', { kind: 'bytes', body: DATA });
    const p = await fetchArtifact(artifact([`${server.url}/bad/pkg.tgz`, `${server.url}/good/pkg.tgz`]), opts({ retries: 0 }));
    await expectVerified(p);
    const good = server.requests.filter((q) => q.path === '/good/pkg.tgz');
    expect(good.map((q) => q.headers.range)).toEqual(['bytes=150000-', undefined]);
    expect(logs.some((l) => l.includes('sha256 mismatch') && l.includes('retrying from 0'))).toBe(true);
  });

  it('times out a stalled server, retries it, then reports it clearly', async () => {
    server.on('/stall/pkg.tgz', { kind: 'stall', body: DATA, after: 1000 });
    const t0 = Date.now();
    const e = await caught(fetchArtifact(artifact([`${server.url}/stall/pkg.tgz`]), opts({ timeoutMs: 300, retries: 1 })));
    const took = Date.now() - t0;
    expect(e).toBeInstanceOf(SourcesExhaustedError);
    expect(e.message).toMatch(/stalled: no data for 0\.3 s \(timed out\)/);
    expect(server.count('/stall/pkg.tgz')).toBe(2);
    expect(server.requests[1]!.headers.range).toBe('bytes=1000-');
    expect(took).toBeLessThan(5_000);
  });

  it('a stalled source falls through to the next one', async () => {
    server.on('/stall/pkg.tgz', { kind: 'stall', body: DATA });
    server.on('/good/pkg.tgz', { kind: 'bytes', body: DATA });
    const p = await fetchArtifact(artifact([`${server.url}/stall/pkg.tgz`, `${server.url}/good/pkg.tgz`]), opts({ timeoutMs: 250, retries: 0 }));
    await expectVerified(p);
    expect(logs.some((l) => l.includes('timed out') && l.includes('trying the next source'))).toBe(true);
  });
});

describe('cancelling', () => {
  it('an aborted fetch stops promptly, keeps the partial file, and the next run resumes it', async () => {
    server.on('/slow/pkg.tgz', { kind: 'bytes', body: DATA, chunkDelayMs: 150 });
    const ac = new AbortController();
    const a = artifact([`${server.url}/slow/pkg.tgz`]);
    let got = 0;
    const running = fetchArtifact(a, opts({ signal: ac.signal, timeoutMs: 2000, onProgress: (e) => void (got = e.received) }));
    while (got < 100_000) await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    ac.abort(new Error('user pressed Ctrl-C'));
    const e = await caught(running);
    expect(Date.now() - t0).toBeLessThan(500);
    expect(e.message).toMatch(/Ctrl-C|aborted/);
    expect(await partials()).toEqual([`${SHA}.part`]);
    expect(existsSync(path.join(distdir, SHA))).toBe(false);
    server.on('/slow/pkg.tgz', { kind: 'bytes', body: DATA });
    const p = await fetchArtifact(a, opts());
    await expectVerified(p);
    expect(server.requests.at(-1)!.headers.range).toMatch(/^bytes=[1-9]\d+-$/);
  });
});

describe('store, offline, locking', () => {
  it('a store hit makes zero requests', async () => {
    server.on('/good/pkg.tgz', { kind: 'bytes', body: DATA });
    const a = artifact([`${server.url}/good/pkg.tgz`]);
    await fetchArtifact(a, opts());
    server.reset();
    const r = await fetchArtifactResult(a, opts());
    expect(r.status).toBe('present');
    await expectVerified(r.path);
    expect(server.count()).toBe(0);
  });

  it('a damaged store entry is not trusted: it is replaced by a verified download', async () => {
    server.on('/good/pkg.tgz', { kind: 'bytes', body: DATA });
    const a = artifact([`${server.url}/good/pkg.tgz`]);
    await mkdir(path.join(distdir, SHA), { recursive: true });
    await writeFile(storePath(distdir, a), CORRUPT);
    expect(await inStore(distdir, a)).toBeUndefined();
    const r = await fetchArtifactResult(a, opts());
    expect(r.status).toBe('stored');
    await expectVerified(r.path);
    expect(logs.some((l) => l.includes('is damaged'))).toBe(true);
  });

  it('a partial download never counts as a store entry', async () => {
    const a = artifact([]);
    await mkdir(path.join(distdir, '.partial'), { recursive: true });
    await writeFile(path.join(distdir, '.partial', `${SHA}.part`), DATA);
    expect(await inStore(distdir, a)).toBeUndefined();
  });

  it('offline: opens no connection and lists what is missing with its sha256', async () => {
    server.on('/good/pkg.tgz', { kind: 'bytes', body: DATA });
    const e = await caught(
      fetchArtifact(artifact([`${server.url}/good/pkg.tgz`]), opts({ offline: true, mirrors: [`${server.url}/m`], distro: true })),
    );
    expect(e).toBeInstanceOf(OfflineMissingError);
    expect(e.message).toContain(`pkg-1.0.tar.gz  sha256 ${SHA}`);
    expect(server.count()).toBe(0);
  });

  it('offline over a whole plan: one error listing every missing file, still no request', async () => {
    server.on('/good/pkg.tgz', { kind: 'bytes', body: DATA });
    const other = randomBytes(1000);
    const a = { ...artifact([`${server.url}/good/pkg.tgz`]), topdir: 'pkg-1.0' };
    const b = { file: 'other-2.0.tar.xz', sha256: sha(other), urls: [`${server.url}/other.tar.xz`], topdir: 'other-2.0' };
    const c = { file: 'patches.tar.xz', sha256: sha(Buffer.from('p')), urls: [`${server.url}/p.tar.xz`], topdir: 'debian' };
    const plan = {
      components: [
        { name: 'nginx', artifacts: [a] },
        { name: 'zlib-ng', artifacts: [b, { ...b, file: 'other-2.0.tar.gz', sha256: 'f'.repeat(64) }] },
      ],
      patchSets: [{ name: 'sec', artifact: c }],
    } as unknown as BuildPlan;
    const e = await caught(fetchPlanSources(plan, opts({ offline: true })));
    expect(e).toBeInstanceOf(OfflineMissingError);
    expect(e.message).toContain('3 files are not in the distfiles store');
    expect(e.message).toContain(`pkg-1.0.tar.gz  sha256 ${SHA}`);
    expect(e.message).toContain(`one of:\n    other-2.0.tar.xz  sha256 ${sha(other)}\n    other-2.0.tar.gz  sha256 ${'f'.repeat(64)}`);
    expect(e.message).toContain(`patches.tar.xz  sha256 ${c.sha256}`);
    expect(server.count()).toBe(0);
    // once the files are there, offline works and still opens nothing
    await fetchArtifact(a, opts());
    for (const x of [b, c]) {
      await mkdir(path.join(distdir, x.sha256), { recursive: true });
      await writeFile(storePath(distdir, x), x === b ? other : Buffer.from('p'));
    }
    server.reset();
    const got = await fetchPlanSources(plan, opts({ offline: true }));
    expect(got.components.nginx!.path).toBe(storePath(distdir, a));
    expect(got.components['zlib-ng']!.artifact.file).toBe('other-2.0.tar.xz');
    expect(got.patchSets.sec).toBe(storePath(distdir, c));
    expect(server.count()).toBe(0);
  });

  it('two concurrent fetches of one artifact download it once and both get the path', async () => {
    server.on('/slow/pkg.tgz', { kind: 'bytes', body: DATA, chunkDelayMs: 40 });
    const a = artifact([`${server.url}/slow/pkg.tgz`]);
    const [p1, p2] = await Promise.all([fetchArtifact(a, opts()), fetchArtifact(a, opts())]);
    expect(p1).toBe(p2);
    await expectVerified(p1);
    expect(server.count('/slow/pkg.tgz')).toBe(1);
    expect(logs.some((l) => l.includes('waiting for it'))).toBe(true);
  });

  it('a stale download lock (a garbage file) is taken over with a line saying so, then the download runs (hostile run 3, NEW-19)', async () => {
    server.on('/pkg.tgz', { kind: 'bytes', body: DATA });
    const a = artifact([`${server.url}/pkg.tgz`]);
    const lp = lockPath(distdir, a);
    await mkdir(path.dirname(lp), { recursive: true });
    await writeFile(lp, 'garbage, not an owner');
    const old = new Date(Date.now() - 10_000);
    await utimes(lp, old, old);
    await expectVerified(await fetchArtifact(a, opts()));
    expect(logs).toContain('pkg-1.0.tar.gz: took over a stale download lock (the lock file is unreadable)');
  });

  it('two processes fetching one artifact at once: one download, both verified', async () => {
    server.on('/slow/pkg.tgz', { kind: 'bytes', body: DATA, chunkDelayMs: 60 });
    const a = artifact([`${server.url}/slow/pkg.tgz`]);
    const child = path.join(import.meta.dirname, 'helpers', 'fetchChild.ts');
    const arg = JSON.stringify({ artifact: a, opts: { distdir, timeoutMs: 2000, retries: 0, distro: false } });
    const procs = [0, 1].map(() => execa('node', ['--import', 'tsx', child, arg], { cwd: path.join(import.meta.dirname, '..'), reject: false }));
    const results = await Promise.all(procs);
    for (const r of results) {
      expect(r.exitCode, String(r.stdout) + String(r.stderr)).toBe(0);
      expect(JSON.parse(String(r.stdout)).path).toBe(storePath(distdir, a));
    }
    expect(server.count('/slow/pkg.tgz')).toBe(1);
    await expectVerified(storePath(distdir, a));
  });
});

describe('parallel fetching', () => {
  it('runs at most `jobs` downloads at a time and every item even when one fails', async () => {
    let running = 0;
    let peak = 0;
    const settled = await pool([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 30));
      running--;
      if (n === 2) throw new Error('two failed');
      return n * 10;
    });
    expect(peak).toBe(3);
    expect(settled.map((r) => (r.status === 'fulfilled' ? r.value : 'x'))).toEqual([10, 'x', 30, 40, 50, 60, 70]);
  });

  it('fetches several files at once: total time is about one slow download, not the sum', async () => {
    const bodies = [0, 1, 2].map(() => randomBytes(50_000));
    const arts = bodies.map((b, i) => {
      server.on(`/p${i}.tgz`, { kind: 'bytes', body: b, chunkDelayMs: 100 }); // ~0.8 s each, 2.4 s in a row
      return { file: `p${i}.tar.gz`, sha256: sha(b), urls: [`${server.url}/p${i}.tgz`], topdir: `p${i}` };
    });
    const plan = { components: arts.map((a, i) => ({ name: ['nginx', 'openssl', 'pcre2'][i], artifacts: [a] })), patchSets: [] } as unknown as BuildPlan;
    const t0 = Date.now();
    const got = await fetchPlanSources(plan, opts({ jobs: 3 } as Partial<FetchOptions>));
    const took = Date.now() - t0;
    expect(Object.keys(got.components).sort()).toEqual(['nginx', 'openssl', 'pcre2']);
    expect(took).toBeLessThan(1_800);
  });
});

describe('equivalent alternatives', () => {
  const other = randomBytes(5000);
  const alt = (urls: string[]) => ({ file: 'pkg-1.0-dfsg.tar.xz', sha256: sha(other), size: other.length, urls });

  it('falls back to the next equivalent archive', async () => {
    server.on('/alt.tar.xz', { kind: 'bytes', body: other });
    const r = await fetchOneOf([artifact([`${server.url}/missing.tgz`]), alt([`${server.url}/alt.tar.xz`])], opts());
    expect(r.artifact.file).toBe('pkg-1.0-dfsg.tar.xz');
    expect(sha(await readFile(r.path))).toBe(sha(other));
  });

  it('a stored copy of a less preferred alternative wins without any request', async () => {
    await mkdir(path.join(distdir, sha(other)), { recursive: true });
    await writeFile(path.join(distdir, sha(other), 'pkg-1.0-dfsg.tar.xz'), other);
    server.on('/good/pkg.tgz', { kind: 'bytes', body: DATA });
    const r = await fetchOneOf([artifact([`${server.url}/good/pkg.tgz`]), alt([])], opts());
    expect(r.artifact.file).toBe('pkg-1.0-dfsg.tar.xz');
    expect(server.count()).toBe(0);
  });
});

describe('distro archive discovery (apt sources)', () => {
  async function fakeRoot(url: string): Promise<string> {
    const root = path.join(tmp, 'root');
    const d = path.join(root, 'etc', 'apt', 'sources.list.d');
    await mkdir(d, { recursive: true });
    await writeFile(
      path.join(d, 'debian.sources'),
      [
        'Types: deb deb-src',
        '# a comment',
        `URIs: ${url}/debian`,
        'Suites: bookworm bookworm-updates',
        'Components: main',
        'Signed-By: /usr/share/keyrings/x.gpg',
        '',
        'Types: deb',
        `URIs: ${url}/debian-security`,
        'Suites: bookworm-security',
        'Components: main',
        '',
        'Types: deb',
        `URIs: ${url}/switched-off`,
        'Suites: bookworm',
        'Components: main',
        'Enabled: no',
        '',
      ].join('\n'),
    );
    await writeFile(path.join(d, 'extra.list'), `# extra\ndeb [arch=amd64 signed-by=/x.gpg] ${url}/second/ bookworm main\ndeb-src ${url}/debian bookworm main\n`);
    await writeFile(path.join(d, 'vendor.list.disabled-by-admin'), `deb ${url}/disabled bookworm main\n`);
    await writeFile(path.join(d, 'old.disabled.list'), `deb ${url}/disabled-too bookworm main\n`);
    await writeFile(path.join(d, 'new.sources.disabled'), `Types: deb\nURIs: ${url}/disabled-three\nSuites: bookworm\n`);
    await writeFile(path.join(root, 'etc', 'apt', 'sources.list'), `deb cdrom:[Debian]/ bookworm main\ndeb ${url}/legacy-security bookworm/updates main\n`);
    return root;
  }

  it('reads .list and deb822 .sources files, skips disabled ones, splits main and security', async () => {
    const root = await fakeRoot(server.url);
    expect(aptArchives(root)).toEqual({
      main: [`${server.url}/debian`, `${server.url}/second`],
      security: [`${server.url}/legacy-security`, `${server.url}/debian-security`],
    });
    expect(aptArchives(path.join(tmp, 'no-such-root'))).toEqual({ main: [], security: [] });
  });

  it('fetches from <archive>/pool/<pool>/<file>, main and security', async () => {
    const root = await fakeRoot(server.url);
    server.on('/second/pool/main/p/pkg/pkg_1.0.orig.tar.gz', { kind: 'bytes', body: DATA });
    const a = artifact([], { distro: { pool: 'main/p/pkg', file: 'pkg_1.0.orig.tar.gz', archive: 'main' } });
    const p = await fetchArtifact(a, opts({ distro: true, aptRoot: root }));
    await expectVerified(p);
    // the first main archive does not have it (404), the second does
    expect(server.requests.map((r) => r.path)).toEqual(['/debian/pool/main/p/pkg/pkg_1.0.orig.tar.gz', '/second/pool/main/p/pkg/pkg_1.0.orig.tar.gz']);

    server.reset();
    const kernel = randomBytes(2000);
    server.on('/debian-security/pool/updates/main/l/linux-signed-amd64/linux-image_1_amd64.deb', { kind: 'bytes', body: kernel });
    const k = { file: 'linux-image_1_amd64.deb', sha256: sha(kernel), urls: [], distro: { pool: 'updates/main/l/linux-signed-amd64', file: 'linux-image_1_amd64.deb', archive: 'security' as const } };
    const kp = await fetchArtifact(k, opts({ distro: true, aptRoot: root }));
    expect(sha(await readFile(kp))).toBe(sha(kernel));
    expect(server.requests.every((r) => r.path.startsWith('/legacy-security/') || r.path.startsWith('/debian-security/'))).toBe(true);
  });

  it('--no-distro leaves the archive alone', async () => {
    const root = await fakeRoot(server.url);
    const a = artifact([], { distro: { pool: 'main/p/pkg', file: 'pkg_1.0.orig.tar.gz', archive: 'main' } });
    const e = await caught(fetchArtifact(a, opts({ distro: false, aptRoot: root })));
    expect(e).toBeInstanceOf(SourcesExhaustedError);
    expect(e.message).toContain('no source to try');
    expect(server.count()).toBe(0);
  });
});

describe('OpenPGP signatures (gpgv)', () => {
  let gnupg: string;
  let keysDir: string;
  let fpr: string;
  let sig: Buffer;
  let otherSig: Buffer;

  beforeAll(async () => {
    gnupg = await mkdtemp(path.join(os.tmpdir(), 'nf-gpg-'));
    keysDir = path.join(gnupg, 'keys');
    await mkdir(keysDir);
    const env = { GNUPGHOME: gnupg };
    const gpg = (args: string[], input?: string) => execa('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { env, input });
    await gpg(['--quick-gen-key', 'nginx-forge test <test@example.invalid>', 'ed25519', 'sign', 'never']);
    await gpg(['--quick-gen-key', 'someone else <other@example.invalid>', 'ed25519', 'sign', 'never']);
    const listing = String((await gpg(['--with-colons', '--fingerprint', 'test@example.invalid'])).stdout);
    fpr = /^fpr:+([0-9A-F]{40}):/m.exec(listing)![1]!;
    await writeFile(path.join(keysDir, 'test.asc'), String((await gpg(['--armor', '--export', 'test@example.invalid'])).stdout) + '\n');
    const data = path.join(gnupg, 'data');
    await writeFile(data, DATA);
    await gpg(['--armor', '--local-user', 'test@example.invalid', '--detach-sign', '--output', `${data}.asc`, data]);
    await gpg(['--armor', '--local-user', 'other@example.invalid', '--detach-sign', '--output', `${data}.other.asc`, data]);
    sig = await readFile(`${data}.asc`);
    otherSig = await readFile(`${data}.other.asc`);
    await execa('gpgconf', ['--kill', 'gpg-agent'], { env, reject: false });
  }, 60_000);
  afterAll(async () => {
    await rm(gnupg, { recursive: true, force: true });
  });

  const signed = (sigBytes: Buffer, fingerprints: string[]) =>
    artifact([`${server.url}/good/pkg.tgz`], {
      signature: { urls: [`${server.url}/good/pkg.tgz.asc`], sha256: sha(sigBytes), keyring: 'test.asc', fingerprints },
    });

  it('accepts a good signature by a pinned fingerprint', async () => {
    server.on('/good/pkg.tgz', { kind: 'bytes', body: DATA });
    server.on('/good/pkg.tgz.asc', { kind: 'bytes', body: sig });
    const p = await fetchArtifact(signed(sig, [fpr]), opts({ keysDir }));
    await expectVerified(p);
    expect(logs.some((l) => l.includes(`good OpenPGP signature by ${fpr}`))).toBe(true);
    // the signature file is a store entry of its own
    expect(await inStore(distdir, { file: 'pkg-1.0.tar.gz.asc', sha256: sha(sig) })).toBeDefined();
  });

  it('fails when the signature is good but the pinned fingerprint is another one', async () => {
    server.on('/good/pkg.tgz', { kind: 'bytes', body: DATA });
    server.on('/good/pkg.tgz.asc', { kind: 'bytes', body: sig });
    const wrong = 'D6786CE303D9A9022998DC6CC8464D549AF75C0A';
    const e = await caught(fetchArtifact(signed(sig, [wrong]), opts({ keysDir })));
    expect(e).toBeInstanceOf(FetchError);
    expect(e.message).toContain('OpenPGP signature check failed for pkg-1.0.tar.gz');
    expect(e.message).toContain(`made by ${fpr}, which is not a pinned fingerprint`);
    expect(e.message).toContain(wrong);
  });

  it('fails when the signing key is not in the keyring', async () => {
    server.on('/good/pkg.tgz', { kind: 'bytes', body: DATA });
    server.on('/good/pkg.tgz.asc', { kind: 'bytes', body: otherSig });
    const e = await caught(fetchArtifact(signed(otherSig, [fpr]), opts({ keysDir })));
    expect(e.message).toMatch(/signature check failed.*(NO_PUBKEY|ERRSIG)/);
  });
});
