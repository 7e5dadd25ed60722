// Local I/O errors (issue 21, defect 9): a full disk, a read-only mount, a state directory that is
// a file. Each is one clear message naming the path and what to do, exit 10 (ExitCode.io), never
// "internal error", never retried as a network failure, never blamed on a patch; a patch run that
// is cancelled says so. The full disk is a real one: a small tmpfs mounted for this file (the tests
// run as root; it is unmounted in afterAll), filled to the last byte.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportError } from '../src/cli.ts';
import { ExitCode, IoError, StageError } from '../src/errors.ts';
import { fetchArtifact } from '../src/fetch/index.ts';
import { asIoError, ioCodeInOutput, isIoError } from '../src/ioerror.ts';
import type { PlanPatch } from '../src/plan.ts';
import { PROJECT_ROOT } from '../src/recipes/load.ts';
import { sha256Hex } from '../src/hash.ts';
import { applyPatches } from '../src/stages/patch.ts';
import { fakeTools, seedCachedBuild } from './helpers/cachedBuild.ts';
import { startServer, type TestServer } from './helpers/httpServer.ts';

const CLI = path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs');
let tmp: string;
/** the full file system */
let full: string;
/** a state directory on it, with the build in its stage cache */
let fullState: string;
/** a file system with room for a lock file, not for a download */
let small: string;
let server: TestServer;

/** Write until the file system says ENOSPC (tmpfs: not one more page). */
function fill(dir: string) {
  const fd = openSync(path.join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  try {
    for (;;) writeSync(fd, chunk, 0, 512);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-faults-io-'));
  full = path.join(tmp, 'full');
  mkdirSync(full);
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', full]);
  fullState = path.join(full, 'state');
  await seedCachedBuild(fullState);
  await seedCachedBuild(path.join(tmp, 'state-out'));
  for (const d of ['out', 'distfiles', 'logs']) mkdirSync(path.join(full, d));
  fill(full);
  small = path.join(tmp, 'small');
  mkdirSync(small);
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', small]);
  server = await startServer();
}, 120_000);
afterAll(async () => {
  await server?.close();
  for (const m of [full, small]) if (m) await execa('umount', [m], { reject: false });
  await rm(tmp, { recursive: true, force: true });
});

const forge = (args: string[], env: Record<string, string> = {}) =>
  execa('node', [CLI, ...args], { reject: false, env: { CI: '1', NGINX_FORGE_HOME: path.join(tmp, 'state'), TMPDIR: tmp, PATH: `${fakeTools(path.join(tmp, 'bin'), {})}:${process.env.PATH}`, ...env } });

describe('one classification of local I/O errors', () => {
  it('knows the file system\'s codes, in an error, its cause or a command\'s output', () => {
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
    for (const code of ['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'ENOTDIR']) expect(isIoError(Object.assign(new Error(code), { code, syscall: 'open' })), code).toBe(true);
    expect(isIoError(Object.assign(new Error('x'), { code: 'EACCES', syscall: 'open', path: '/x' }))).toBe(true);
    // a socket's or kill()'s EACCES/EPERM, a network error: not the file system's
    expect(isIoError(Object.assign(new Error('x'), { code: 'EACCES', syscall: 'connect' }))).toBe(false);
    expect(isIoError(Object.assign(new Error('x'), { code: 'ECONNRESET', syscall: 'read' }))).toBe(false);
    expect(asIoError(new Error('wrapped', { cause: new AggregateError([enospc]) }))).toBeInstanceOf(IoError);
    expect(ioCodeInOutput(['dpkg-deb: error: failed to write: No space left on device'])).toBe('ENOSPC');
    expect(ioCodeInOutput(['patch: **** malformed patch at line 3'])).toBeUndefined();
  });

  it('the CLI\'s handler reports a bare errno error as exit 10 with the path, not an internal error', () => {
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    (process.stderr as { write: unknown }).write = (s: string) => (writes.push(s), true);
    let code: number;
    try {
      code = reportError(Object.assign(new Error(`EROFS: read-only file system, open '${full}/x'`), { code: 'EROFS', syscall: 'open', path: `${full}/x` }));
    } finally {
      (process.stderr as { write: unknown }).write = orig;
    }
    expect(code).toBe(ExitCode.io);
    const text = writes.join('');
    expect(text).toContain(`error: cannot write ${full}/x: read-only file system (EROFS)`);
    expect(text).toMatch(/it is on tmpfs mounted at /);
    expect(text).toMatch(/what to do: .*remount it read-write/);
    expect(text).not.toMatch(/internal error|    at /);
  });
});

describe('a full disk', () => {
  it('--out on it: exit 10, the file named, its file system and what to do (was: internal error + stack, exit 1)', async () => {
    const out = path.join(full, 'out');
    // (the cached build in a state dir on a disk with room)
    const r = await forge(['build', '--until', 'artifacts', '--out', out], { NGINX_FORGE_HOME: path.join(tmp, 'state-out') });
    expect(r.exitCode, r.stderr).toBe(ExitCode.io);
    expect(r.stderr).toMatch(new RegExp(`error: cannot write ${out}/\\S+: no space left on device \\(ENOSPC\\)`));
    expect(r.stderr).toMatch(/it is on tmpfs mounted at .*: \d+(\.\d)? (B|KiB) free of 2\.0 MiB/);
    expect(r.stderr).toMatch(/what to do: free space on .*, or give --out a directory on another disk; then run the same command again/);
    expect(r.stderr).not.toMatch(/internal error|    at /);
    expect(readdirSync(out).filter((f) => f.includes('.tmp'))).toEqual([]);
  }, 60_000);

  it('the state directory on it: exit 10 naming a file in it and `nginx-forge gc`', async () => {
    const r = await forge(['build', '--until', 'artifacts', '--out', path.join(tmp, 'dist')], { NGINX_FORGE_HOME: fullState });
    expect(r.exitCode, r.stderr).toBe(ExitCode.io);
    expect(r.stderr).toMatch(new RegExp(`error: cannot write ${fullState}/\\S+: no space left on device \\(ENOSPC\\)`));
    expect(r.stderr).toMatch(/`nginx-forge gc` removes unused stage entries/);
    expect(r.stderr).toMatch(/set NGINX_FORGE_HOME to a directory on another disk/);
    expect(r.stderr).not.toMatch(/internal error|    at /);
  }, 60_000);

  it('the distfiles store filling up while downloading: one attempt per file, not retried as a network error, no "--mirror" hint (was: 3 tries per source, 44 s)', async () => {
    const body = randomBytes(300_000);
    server.on('/dl/pkg.tgz', { kind: 'bytes', body });
    const distdir = path.join(small, 'distfiles');
    const t0 = Date.now();
    const e = await fetchArtifact(
      { file: 'pkg.tgz', sha256: createHash('sha256').update(body).digest('hex'), size: body.length, urls: [`${server.url}/dl/pkg.tgz`, `${server.url}/dl/pkg.tgz?second-source`] },
      { distdir, timeoutMs: 5_000, retries: 2, backoffMs: 2_000, distro: false },
    ).then(() => new Error("resolved"), (x: unknown) => x as Error);
    expect(e).toBeInstanceOf(IoError);
    expect((e as IoError).exitCode).toBe(ExitCode.io);
    expect((e as IoError).message).toMatch(new RegExp(`cannot write ${distdir}/\\.partial/\\S+: no space left on device \\(ENOSPC\\)`));
    expect((e as IoError).hint).toMatch(/pass --distdir \(or set NGINX_FORGE_DISTDIR\) to a directory on another disk/);
    expect((e as IoError).hint).not.toMatch(/--mirror/);
    // one request: no retry, no second source, no backoff
    expect(server.count()).toBe(1);
    expect(Date.now() - t0).toBeLessThan(2_000);
    // the partial file is removed, and the message says so: kept, it kept the disk full (hostile run 3, NEW-3)
    expect((e as IoError).message).toMatch(new RegExp(`the partial download ${distdir}/\\.partial/\\S+\\.part was removed`));
    expect(existsSync(path.join(distdir, '.partial')) ? readdirSync(path.join(distdir, '.partial')) : []).toEqual([]);
  });

  it('the log on it: the patch is not blamed (was: "patch … does not apply")', async () => {
    const { dir, list } = patchSetup('--- a/hello.c\n+++ b/hello.c\n@@ -1 +1 @@\n-int main(void) { return 0; }\n+int main(void) { return 1; }\n');
    const log = path.join(full, 'logs', 'patch-nginx.log');
    const e = await applyPatches({ srcDir: dir, patches: list, patchSetDirs: {}, log }, 'nginx').then(() => new Error("resolved"), (x: unknown) => x as Error);
    expect(e).toBeInstanceOf(IoError);
    expect(e.message).toContain(`cannot write ${log}: no space left on device (ENOSPC)`);
    expect(e.message).not.toMatch(/does not apply/);
  });
});

function patchSetup(text: string) {
  const base = path.join(tmp, `patch-${randomBytes(4).toString('hex')}`);
  const dir = path.join(base, 'tree');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'hello.c'), 'int main(void) { return 0; }\n');
  const f = path.join(base, '0001-CVE-2099-0001.patch');
  writeFileSync(f, text);
  const list: PlanPatch[] = [{ component: 'nginx', id: 'patches/nginx/t/0001-CVE-2099-0001.patch', sha256: sha256Hex(Buffer.from(text)), strip: 1, origin: { kind: 'local', path: f }, cves: [] }];
  return { base, dir, list };
}

describe('a patch run that is stopped', () => {
  it('cancelled (Ctrl-C) says cancelled, not "does not apply"', async () => {
    const { base, dir, list } = patchSetup('--- a/hello.c\n+++ b/hello.c\n@@ -1 +1 @@\n-int main(void) { return 0; }\n+int main(void) { return 1; }\n');
    // a `patch` that takes its time
    const bin = fakeTools(path.join(base, 'bin'), { patch: 'echo started >&2\nexec sleep 30' });
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    const ac = new AbortController();
    try {
      setTimeout(() => ac.abort(new Error('interrupted')), 500);
      const e = await applyPatches({ srcDir: dir, patches: list, patchSetDirs: {}, log: path.join(base, 'log'), signal: ac.signal }, 'nginx').then(() => new Error("resolved"), (x: unknown) => x as Error);
      expect(e).toBeInstanceOf(StageError);
      expect(e.message).toMatch(/command failed \(cancelled\)/);
      expect(e.message).not.toMatch(/does not apply/);
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it('a patch that really does not apply is still named (exit 1 of patch)', async () => {
    const { base, dir, list } = patchSetup('--- a/hello.c\n+++ b/hello.c\n@@ -1 +1 @@\n-no such line\n+x\n');
    const e = await applyPatches({ srcDir: dir, patches: list, patchSetDirs: {}, log: path.join(base, 'log') }, 'nginx').then(() => new Error("resolved"), (x: unknown) => x as Error);
    expect(e.message).toContain('0001-CVE-2099-0001.patch does not apply to hello.c');
  });
});

describe('a state directory that is a file', () => {
  const asFile = () => {
    const f = path.join(tmp, 'state-is-a-file');
    writeFileSync(f, 'not a directory\n');
    return f;
  };
  it('gc: exit 2 naming it and what to do (was: internal error)', async () => {
    const f = asFile();
    const r = await forge(['gc', '--dry-run'], { NGINX_FORGE_HOME: f });
    expect(r.exitCode, r.stderr).toBe(ExitCode.usage);
    expect(r.stderr).toContain(`NGINX_FORGE_HOME ${f}: is a file, not a directory`);
    expect(r.stderr).toMatch(/what to do: set NGINX_FORGE_HOME to a directory/);
    expect(r.stderr).not.toMatch(/internal error|    at /);
  });

  it('doctor: reports it (text and --json), exit 2 (was: internal error)', async () => {
    const f = asFile();
    const r = await forge(['doctor'], { NGINX_FORGE_HOME: f });
    expect(r.exitCode, r.stderr).toBe(ExitCode.usage);
    expect(r.stdout).toContain(`State: NGINX_FORGE_HOME ${f}: is a file, not a directory`);
    expect(r.stderr).not.toMatch(/internal error|    at /);
    const j = await forge(['doctor', '--json'], { NGINX_FORGE_HOME: f });
    expect(j.exitCode, j.stderr).toBe(ExitCode.usage);
    expect(JSON.parse(j.stdout).state.problem).toBe(`NGINX_FORGE_HOME ${f}: is a file, not a directory`);
  });
});
