// The tree hash (src/fetch/treehash.ts) and sources pinned by it (src/fetch/source.ts): the
// definition on hand-made trees (symlinks, modes, a tampered tree), and real downloads over HTTP
// of two archives with different bytes but the same files.
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchSourceTree, treeStoreKey } from '../src/fetch/source.ts';
import { storePath } from '../src/fetch/store.ts';
import { TreeHashError, TreeHashMismatchError, treeEntries, treeManifest, treeSha256, verifyTree } from '../src/fetch/treehash.ts';
import { SourceArtifact } from '../src/recipes/schema.ts';
import { FetchError } from '../src/errors.ts';
import { startServer, type TestServer } from './helpers/httpServer.ts';
import { makeTarball, type Member } from './helpers/tarball.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-treehash-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function makeTree(root: string): Promise<void> {
  await mkdir(path.join(root, 'lib', 'empty'), { recursive: true });
  await writeFile(path.join(root, 'README'), 'hello\n');
  await writeFile(path.join(root, 'run.sh'), '#!/bin/sh\n');
  await chmod(path.join(root, 'run.sh'), 0o755);
  await writeFile(path.join(root, 'lib', 'a.pm'), 'package a;\n');
  await symlink('../README', path.join(root, 'lib', 'readme'));
}

describe('tree hash: the definition', () => {
  it('hashes the sorted lines "<type> <mode> <path> <value>" (files by content, symlinks by target, dirs as "-")', async () => {
    const root = path.join(tmp, 'top');
    await makeTree(root);
    const manifest = treeManifest(await treeEntries(root));
    expect(manifest).toBe(
      [
        `file 100644 README ${sha('hello\n')}`,
        'dir 040000 lib -',
        `file 100644 lib/a.pm ${sha('package a;\n')}`,
        'dir 040000 lib/empty -',
        'symlink 120000 lib/readme ../README',
        `file 100755 run.sh ${sha('#!/bin/sh\n')}`,
      ].join('\n') + '\n',
    );
    expect(await treeSha256(root)).toBe(sha(manifest));
  });

  it('sorts by bytes, not by locale ("B" before "a", "a-b" before "a/")', async () => {
    const root = path.join(tmp, 'top');
    await mkdir(path.join(root, 'a'), { recursive: true });
    await writeFile(path.join(root, 'B'), '');
    await writeFile(path.join(root, 'a-b'), '');
    await writeFile(path.join(root, 'a', 'x'), '');
    expect((await treeEntries(root)).map((e) => e.path)).toEqual(['B', 'a', 'a-b', 'a/x']);
  });

  it('counts only the owner-execute bit of a mode; ownership and times never count', async () => {
    const root = path.join(tmp, 'top');
    await makeTree(root);
    const before = await treeSha256(root);
    await chmod(path.join(root, 'README'), 0o600); // no x bit: still 100644
    await chmod(path.join(root, 'run.sh'), 0o700); // x bit kept: still 100755
    const now = new Date('2001-01-01');
    const { utimes } = await import('node:fs/promises');
    await utimes(path.join(root, 'README'), now, now);
    expect(await treeSha256(root)).toBe(before);
    await chmod(path.join(root, 'README'), 0o744); // now executable: a different tree
    expect(await treeSha256(root)).not.toBe(before);
  });

  it('changes when a file, a symlink target, or the set of entries changes (tampered trees)', async () => {
    const root = path.join(tmp, 'top');
    await makeTree(root);
    const pinned = await treeSha256(root);
    await verifyTree(root, pinned, 'pkg');

    await writeFile(path.join(root, 'lib', 'a.pm'), 'package a; 1;\n');
    await expect(verifyTree(root, pinned, 'pkg')).rejects.toThrow(TreeHashMismatchError);
    await writeFile(path.join(root, 'lib', 'a.pm'), 'package a;\n');
    expect(await treeSha256(root)).toBe(pinned);

    await rm(path.join(root, 'lib', 'readme'));
    await symlink('../run.sh', path.join(root, 'lib', 'readme'));
    const e = await verifyTree(root, pinned, 'pkg').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TreeHashMismatchError);
    expect((e as Error).message).toContain(`expected: ${pinned}`);
    await rm(path.join(root, 'lib', 'readme'));
    await symlink('../README', path.join(root, 'lib', 'readme'));
    expect(await treeSha256(root)).toBe(pinned);

    await writeFile(path.join(root, 'lib', 'extra.pm'), '');
    expect(await treeSha256(root)).not.toBe(pinned);
    await rm(path.join(root, 'lib', 'extra.pm'));
    await rm(path.join(root, 'lib', 'empty'), { recursive: true });
    expect(await treeSha256(root)).not.toBe(pinned);
  });

  it('refuses a FIFO and a path with a newline', async () => {
    const root = path.join(tmp, 'top');
    await makeTree(root);
    await execa('mkfifo', [path.join(root, 'pipe')]);
    await expect(treeSha256(root)).rejects.toThrow(TreeHashError);
    await rm(path.join(root, 'pipe'));
    await writeFile(path.join(root, 'a\nb'), '');
    await expect(treeSha256(root)).rejects.toThrow(/newline/);
  });
});

describe('recipe schema: SourceArtifact', () => {
  const base = { file: 'x-1.tar.gz', urls: ['https://example.org/x-1.tar.gz'], topdir: 'x-1' };
  it('needs sha256 or treeSha256', () => {
    const r = SourceArtifact.safeParse(base);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message).join("\n")).toMatch(/needs "sha256" \(the archive\) or "treeSha256"/);
    expect(SourceArtifact.safeParse({ ...base, treeSha256: 'a'.repeat(64) }).success).toBe(true);
    expect(SourceArtifact.safeParse({ ...base, sha256: 'a'.repeat(64) }).success).toBe(true);
    expect(SourceArtifact.safeParse({ ...base, treeSha256: 'A'.repeat(64) }).success).toBe(false);
  });
});

describe('fetchSourceTree: archives pinned by their unpacked tree', () => {
  const TOP = 'suite-1';
  const members = (extra = ''): Member[] => [
    { name: TOP, type: 'dir' },
    { name: `${TOP}/lib`, type: 'dir' },
    { name: `${TOP}/lib/T.pm`, type: 'file', data: 'package T;\n1;\n' },
    { name: `${TOP}/a.t`, type: 'file', data: `print "1..1\\nok 1\\n";${extra}\n` },
    { name: `${TOP}/lib/link`, type: 'symlink', target: 'T.pm' },
  ];
  let server: TestServer;
  let gitArchive: Buffer; // "the snapshot" (xz)
  let forgeArchive: Buffer; // "the forge's archive": same files, other bytes (gzip, other order)
  let tampered: Buffer;
  let pinnedTree: string;
  beforeAll(async () => {
    server = await startServer();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nf-treehash-src-'));
    gitArchive = await readFile(await makeTarball(path.join(dir, 'a.tar.xz'), members(), 'xz'));
    forgeArchive = await readFile(await makeTarball(path.join(dir, 'b.tar.gz'), [...members()].reverse().sort((x) => (x.type === 'dir' ? -1 : 1)), 'gz'));
    tampered = await readFile(await makeTarball(path.join(dir, 'c.tar.gz'), members(' # changed'), 'gz'));
    const probe = path.join(dir, 'probe');
    await mkdir(probe);
    const { extractArchive } = await import('../src/archive/extract.ts');
    pinnedTree = await treeSha256(await extractArchive(path.join(dir, 'a.tar.xz'), probe, TOP));
    await rm(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await server.close();
  });

  const artifact = (urls: string[]): SourceArtifact => ({ file: `${TOP}.tar.gz`, treeSha256: pinnedTree, urls, topdir: TOP });
  const opts = () => ({ distdir: path.join(tmp, 'distfiles'), distro: false, retries: 0, backoffMs: 1 });

  it('two archives with different bytes but the same files both verify; the store keeps tree-<hash>/<file>', async () => {
    expect(gitArchive.equals(forgeArchive)).toBe(false);
    server.on('/forge.tar.gz', { kind: 'bytes', body: forgeArchive });
    const mirror = path.join(tmp, 'mirror');
    await mkdir(mirror);
    await writeFile(path.join(mirror, `${TOP}.tar.gz`), gitArchive);

    const fromForge = await fetchSourceTree(artifact([`${server.url}/forge.tar.gz`]), path.join(tmp, 'w1'), opts());
    expect(fromForge.dir).toBe(path.join(tmp, 'w1', TOP));
    expect(await readFile(path.join(fromForge.dir, 'lib', 'T.pm'), 'utf8')).toBe('package T;\n1;\n');
    const stored = storePath(opts().distdir, treeStoreKey(artifact([])));
    expect(stored).toBe(path.join(tmp, 'distfiles', `tree-${pinnedTree}`, `${TOP}.tar.gz`));
    expect((await readFile(stored)).equals(forgeArchive)).toBe(true);

    // the mirror's copy (other bytes) verifies as well
    await rm(opts().distdir, { recursive: true });
    const fromMirror = await fetchSourceTree({ ...artifact([]), urls: ['https://example.invalid/never-tried.tar.gz'] }, path.join(tmp, 'w2'), { ...opts(), mirrors: [mirror] });
    expect(await treeSha256(fromMirror.dir)).toBe(pinnedTree);
    expect((await readFile(stored)).equals(gitArchive)).toBe(true);

    // now in the store: no network at all
    const n = server.count();
    await fetchSourceTree(artifact([`${server.url}/forge.tar.gz`]), path.join(tmp, 'w3'), { ...opts(), offline: true });
    expect(server.count()).toBe(n);
  });

  it('a tampered archive is refused with both tree hashes, nothing stored, the next source is tried', async () => {
    server.on('/tampered.tar.gz', { kind: 'bytes', body: tampered });
    server.on('/good.tar.gz', { kind: 'bytes', body: forgeArchive });
    const logs: string[] = [];
    const r = await fetchSourceTree(artifact([`${server.url}/tampered.tar.gz`, `${server.url}/good.tar.gz`]), path.join(tmp, 'w'), { ...opts(), onLog: (l) => logs.push(l) });
    expect(logs.join('\n')).toMatch(/tampered\.tar\.gz: tree sha256 mismatch for suite-1\.tar\.gz\s+expected: [0-9a-f]{64}\s+actual: +[0-9a-f]{64}/);
    expect(await treeSha256(r.dir)).toBe(pinnedTree);

    await rm(opts().distdir, { recursive: true });
    const dest = path.join(tmp, 'w-bad');
    const e = await fetchSourceTree(artifact([`${server.url}/tampered.tar.gz`]), dest, opts()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FetchError);
    expect((e as Error).message).toMatch(/could not fetch suite-1\.tar\.gz \(tree sha256 [0-9a-f]{64}\); tried 1 source/);
    expect((e as FetchError).hint).toContain('--mirror');
    expect(existsSync(storePath(opts().distdir, treeStoreKey(artifact([]))))).toBe(false);
    expect(existsSync(path.join(dest, TOP))).toBe(false);
  });

  it('a damaged store entry is removed and fetched again', async () => {
    server.on('/good.tar.gz', { kind: 'bytes', body: forgeArchive });
    const stored = storePath(opts().distdir, treeStoreKey(artifact([])));
    await mkdir(path.dirname(stored), { recursive: true });
    await writeFile(stored, tampered);
    const logs: string[] = [];
    const r = await fetchSourceTree(artifact([`${server.url}/good.tar.gz`]), path.join(tmp, 'w'), { ...opts(), onLog: (l) => logs.push(l) });
    expect(logs.join('\n')).toMatch(/store entry .* is damaged/);
    expect(await treeSha256(r.dir)).toBe(pinnedTree);
    expect((await readFile(stored)).equals(forgeArchive)).toBe(true);
  });

  it('an artifact pinned by sha256 and treeSha256 checks both', async () => {
    server.on('/good.tar.gz', { kind: 'bytes', body: forgeArchive });
    const both = { ...artifact([`${server.url}/good.tar.gz`]), sha256: createHash('sha256').update(forgeArchive).digest('hex') };
    const r = await fetchSourceTree(both, path.join(tmp, 'w'), opts());
    expect(existsSync(path.join(opts().distdir, both.sha256, both.file))).toBe(true);
    expect(await treeSha256(r.dir)).toBe(pinnedTree);
    const wrongTree = { ...both, treeSha256: 'f'.repeat(64) };
    await expect(fetchSourceTree(wrongTree, path.join(tmp, 'w2'), opts())).rejects.toThrow(TreeHashMismatchError);
    expect(existsSync(path.join(tmp, 'w2', TOP))).toBe(false);
  });
});
