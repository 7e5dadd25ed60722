// `nginx-forge fetch` end to end, as a user runs it (a child process with CI=1, so plain
// timestamped output), against a copy of the built-in recipes whose sources are rewritten to
// synthetic files on a local HTTP server.
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_RECIPES, PROJECT_ROOT } from '../src/recipes/load.ts';
import { startServer, type TestServer } from './helpers/httpServer.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let server: TestServer;
let tmp: string;
let recipes: string;
const files = new Map<string, Buffer>(); // file name → bytes served

beforeAll(async () => {
  server = await startServer();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-fetch-cmd-'));
  recipes = path.join(tmp, 'recipes');
  cpSync(BUILTIN_RECIPES, recipes, { recursive: true });
  // every artifact → a random file of its own on the local server (no distro, no signature)
  const dir = path.join(recipes, 'components');
  for (const f of readdirSync(dir)) {
    const recipe = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
    for (const v of Object.values(recipe.versions) as { artifacts: any[]; patchSets?: { artifact: any }[] }[]) {
      for (const a of [...v.artifacts, ...(v.patchSets ?? []).map((s) => s.artifact)]) {
        const body = randomBytes(20_000 + files.size * 1000);
        files.set(a.file, body);
        a.sha256 = sha(body);
        a.size = body.length;
        a.urls = [`${server.url}/dl/${encodeURIComponent(a.file)}`];
        delete a.distro;
        delete a.signature;
        server.on(`/dl/${encodeURIComponent(a.file)}`, { kind: 'bytes', body });
      }
    }
    writeFileSync(path.join(dir, f), JSON.stringify(recipe, null, 2));
  }
});
afterAll(async () => {
  await server.close();
  await rm(tmp, { recursive: true, force: true });
});

const forge = (args: string[]) =>
  execa('node', [path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs'), 'fetch', '--recipes', recipes, '--distdir', path.join(tmp, 'distfiles'), ...args], {
    reject: false,
    env: { CI: '1', NGINX_FORGE_HOME: path.join(tmp, 'home') },
  });

describe('nginx-forge fetch', () => {
  // ktls profile: 5 components (zlib-ng has two equivalent archives; the first wins) + 2 patch sets (nginx, OpenSSL)
  const wanted = ['nginx-1.26.3.tar.gz', 'openssl-3.5.7.tar.gz', 'pcre2-10.48.tar.gz', 'zlib-ng-2.2.4.tar.gz', 'jemalloc_5.3.1.orig.tar.gz', 'nginx_1.26.3-3+deb13u9.debian.tar.xz', 'openssl_3.5.7-1~deb13u2.debian.tar.xz'];

  it('downloads and verifies every source, then a second run downloads nothing, then --offline works', async () => {
    const first = await forge(['--jobs', '3']);
    expect(first.exitCode, String(first.stderr)).toBe(0);
    for (const f of wanted) {
      expect(first.stdout).toMatch(new RegExp(`^stored +${f.replace(/[.+]/g, '\\$&')} +[0-9.]+ [KMG]?i?B  sha256 ${sha(files.get(f)!)}$`, 'm'));
    }
    expect(first.stdout).toContain('all 7 files verified');
    // plain (non-TTY) output: timestamped lines, one task per file
    expect(first.stderr).toMatch(/\[\d\d:\d\d:\d\d\] .*nginx-1\.26\.3\.tar\.gz: stored/);
    expect(server.count()).toBe(7);

    server.reset();
    const second = await forge([]);
    expect(second.exitCode, String(second.stderr)).toBe(0);
    for (const f of wanted) expect(second.stdout).toMatch(new RegExp(`^present +${f.replace(/[.+]/g, '\\$&')} `, 'm'));
    expect(second.stdout).toContain('(0 B downloaded');
    expect(server.count()).toBe(0);

    const offline = await forge(['--offline']);
    expect(offline.exitCode, String(offline.stderr)).toBe(0);
    expect(server.count()).toBe(0);
  });

  it('--offline with files missing: exit 3, every missing file listed, no request', async () => {
    server.reset();
    const r = execa('node', [path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs'), 'fetch', '--recipes', recipes, '--distdir', path.join(tmp, 'empty'), '--offline'], {
      reject: false,
      env: { CI: '1' },
    });
    const res = await r;
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toContain('offline: 7 files are not in the distfiles store');
    expect(res.stderr).toContain(`nginx-1.26.3.tar.gz  sha256 ${sha(files.get('nginx-1.26.3.tar.gz')!)}`);
    expect(res.stderr).toContain('one of:');
    expect(res.stderr).toContain('what to do:');
    expect(server.count()).toBe(0);
  });

  it('a source that cannot be fetched fails with exit 3 and names it', async () => {
    server.on(`/dl/${encodeURIComponent('pcre2-10.48.tar.gz')}`, { kind: 'status', status: 404 });
    const res = await execa('node', [path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs'), 'fetch', '--recipes', recipes, '--distdir', path.join(tmp, 'fresh')], {
      reject: false,
      env: { CI: '1' },
    });
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toContain('could not fetch pcre2-10.48.tar.gz');
    expect(res.stderr).toContain(`${server.url}/dl/pcre2-10.48.tar.gz\n    HTTP 404`);
    expect(res.stderr).toContain('--mirror');
    // the others were still fetched
    expect(readdirSync(path.join(tmp, 'fresh')).filter((d) => /^[0-9a-f]{64}$/.test(d))).toHaveLength(6);
  });
});
