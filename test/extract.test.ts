// Extraction of good and hostile archives. Every hostile archive is built here (Python tarfile)
// and must be refused with an ExtractError naming the member, with nothing written outside the
// target and no partial tree left in destParent.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExtractError, MissingToolError } from '../src/errors.ts';
import { detectCompression, extractArchive } from '../src/archive/extract.ts';
import { goodTree, makeTarball, type Member } from './helpers/tarball.ts';

const TOP = 'pkg-1.0';
let tmp: string;
let dest: string;
let outside: string;

beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-extract-test-'));
  dest = path.join(tmp, 'work');
  outside = path.join(tmp, 'outside');
  await mkdir(dest);
  await mkdir(outside);
  await writeFile(path.join(outside, 'sentinel'), 'untouched\n');
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Everything under a directory (relative paths), to prove nothing changed. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      out.push(path.join(rel, n));
      if (lstatSync(p).isDirectory()) walk(p, path.join(rel, n));
    }
  };
  walk(dir, '');
  return out.sort();
}

async function expectRejected(members: Member[], member: string, reason: RegExp, compression: 'gz' | 'xz' | 'bz2' = 'gz') {
  const archive = await makeTarball(path.join(tmp, `hostile.tar.${compression}`), members, compression);
  const before = tree(tmp);
  let err: unknown;
  try {
    await extractArchive(archive, dest, TOP);
  } catch (e) {
    err = e;
  }
  expect(err, 'extraction must be refused').toBeInstanceOf(ExtractError);
  const e = err as ExtractError;
  expect(e.archive).toBe(archive);
  expect(e.member).toBe(member);
  expect(e.message).toContain(`member "${member}"`);
  expect(e.message).toMatch(reason);
  // nothing new anywhere: no partial tree, no temp dir, nothing outside
  expect(readdirSync(dest)).toEqual([]);
  expect(tree(tmp)).toEqual(before);
  expect(readFileSync(path.join(outside, 'sentinel'), 'utf8')).toBe('untouched\n');
  return e;
}

const base = (): Member[] => [
  { name: TOP, type: 'dir' },
  { name: `${TOP}/README`, type: 'file', data: 'hi\n' },
];

describe('refuses hostile archives', () => {
  it('absolute paths', async () => {
    const abs = path.join(outside, 'evil');
    await expectRejected([...base(), { name: abs, type: 'file', data: 'x' }], abs, /absolute path/);
    expect(existsSync(abs)).toBe(false);
  });

  it('".." components', async () => {
    const name = `${TOP}/../outside/evil`;
    await expectRejected([...base(), { name, type: 'file', data: 'x' }], name, /"\.\." component/);
    await expectRejected([...base(), { name: `${TOP}/a/../../../outside/evil2`, type: 'file', data: 'x' }], `${TOP}/a/../../../outside/evil2`, /"\.\."/);
    expect(existsSync(path.join(outside, 'evil'))).toBe(false);
  });

  it('symbolic links pointing outside the tree', async () => {
    await expectRejected([...base(), { name: `${TOP}/out`, type: 'symlink', target: '../../outside' }], `${TOP}/out`, /resolves outside "pkg-1\.0\/"/);
    await expectRejected([...base(), { name: `${TOP}/etc`, type: 'symlink', target: '/etc' }], `${TOP}/etc`, /absolute path "\/etc"/);
    await expectRejected([...base(), { name: `${TOP}/up`, type: 'symlink', target: '..' }], `${TOP}/up`, /resolves outside/);
  });

  it('a symlink escaping through another symlink (lexically inside, really outside)', async () => {
    // d/s -> .. is pkg-1.0 itself (fine); t -> d/s/.. looks like pkg-1.0/d but really is the parent of pkg-1.0
    await expectRejected(
      [...base(), { name: `${TOP}/d`, type: 'dir' }, { name: `${TOP}/d/s`, type: 'symlink', target: '..' }, { name: `${TOP}/t`, type: 'symlink', target: 'd/s/..' }],
      `${TOP}/t`,
      /resolves outside/,
    );
  });

  it('symlink loops', async () => {
    await expectRejected(
      [...base(), { name: `${TOP}/a`, type: 'symlink', target: 'b/x' }, { name: `${TOP}/b`, type: 'symlink', target: 'a/y' }],
      `${TOP}/a`,
      /loop/,
    );
  });

  it('hard links to anything outside the tree', async () => {
    await expectRejected([...base(), { name: `${TOP}/passwd`, type: 'hardlink', target: '/etc/passwd' }], `${TOP}/passwd`, /hard link to the absolute path/);
    await expectRejected([...base(), { name: `${TOP}/s`, type: 'hardlink', target: `${TOP}/../outside/sentinel` }], `${TOP}/s`, /contains "\.\."/);
    await expectRejected([...base(), { name: `${TOP}/s`, type: 'hardlink', target: 'outside/sentinel' }], `${TOP}/s`, /outside "pkg-1\.0\/"/);
    // a target that is not an earlier regular file of the archive (would link whatever exists there)
    await expectRejected([...base(), { name: `${TOP}/s`, type: 'hardlink', target: `${TOP}/later` }], `${TOP}/s`, /not a regular file earlier in the archive/);
  });

  it('a hard link through a symlink of the archive', async () => {
    await expectRejected(
      [...base(), { name: `${TOP}/l`, type: 'symlink', target: '.' }, { name: `${TOP}/h`, type: 'hardlink', target: `${TOP}/l/README` }],
      `${TOP}/h`,
      /goes through the symbolic link "pkg-1\.0\/l"/,
    );
  });

  it('devices and FIFOs', async () => {
    await expectRejected([...base(), { name: `${TOP}/null`, type: 'chr' }], `${TOP}/null`, /character device/);
    await expectRejected([...base(), { name: `${TOP}/sda`, type: 'blk' }], `${TOP}/sda`, /block device/);
    await expectRejected([...base(), { name: `${TOP}/pipe`, type: 'fifo' }], `${TOP}/pipe`, /FIFO/);
  });

  it('members outside the expected top-level directory', async () => {
    await expectRejected([...base(), { name: 'other-2.0/x', type: 'file', data: 'x' }], 'other-2.0/x', /outside the expected top-level directory "pkg-1\.0\/"/);
    // (tarfile writes directory names with a trailing slash; the error shows the member as stored)
    await expectRejected([...base(), { name: 'other-2.0', type: 'dir' }], 'other-2.0/', /a second top-level entry/);
    await expectRejected([...base(), { name: 'INSTALL', type: 'file', data: 'x' }], 'INSTALL', /second top-level entry/);
    // the wrong top-level directory altogether
    await expectRejected([{ name: 'pkg-9.9/README', type: 'file', data: 'x' }], 'pkg-9.9/README', /outside the expected top-level/);
    // the top-level name as a file or a symlink
    await expectRejected([{ name: TOP, type: 'symlink', target: '/tmp' }], TOP, /must be a directory/);
  });

  it('the symlink-then-file trick', async () => {
    // a link inside the tree, then a regular file with the same name (extractors that follow the
    // link would write wherever it points)
    await expectRejected(
      [...base(), { name: `${TOP}/link`, type: 'symlink', target: 'README' }, { name: `${TOP}/link`, type: 'file', data: 'overwrite' }],
      `${TOP}/link`,
      /replaces the symbolic link/,
    );
    // and writing below a symlinked directory
    await expectRejected(
      [...base(), { name: `${TOP}/sub`, type: 'dir' }, { name: `${TOP}/lnk`, type: 'symlink', target: 'sub' }, { name: `${TOP}/lnk/x`, type: 'file', data: 'x' }],
      `${TOP}/lnk/x`,
      /goes through the symbolic link "pkg-1\.0\/lnk"/,
    );
  });

  it('a hostile member late in a large xz archive: nothing is written at all', async () => {
    const many: Member[] = [...base()];
    for (let i = 0; i < 300; i++) many.push({ name: `${TOP}/f${i}.txt`, type: 'file', data: `file ${i}\n`.repeat(50) });
    many.push({ name: `${TOP}/../outside/late`, type: 'file', data: 'x' });
    await expectRejected(many, `${TOP}/../outside/late`, /"\.\."/, 'xz');
    expect(existsSync(path.join(outside, 'late'))).toBe(false);
  });

  it('damaged or unknown data', async () => {
    const archive = await makeTarball(path.join(tmp, 'ok.tar.gz'), goodTree(TOP));
    const bytes = readFileSync(archive);
    const cut = path.join(tmp, 'cut.tar.gz');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(extractArchive(cut, dest, TOP)).rejects.toThrow(ExtractError);
    expect(readdirSync(dest)).toEqual([]);
    const junk = path.join(tmp, 'junk.tar.gz');
    await writeFile(junk, '<!DOCTYPE html><html>not a tarball</html>');
    await expect(extractArchive(junk, dest, TOP)).rejects.toThrow(/unknown format/);
    expect(readdirSync(dest)).toEqual([]);
  });
});

describe('extracts good archives', () => {
  for (const c of ['gz', 'xz', 'bz2', 'none'] as const) {
    it(`.tar${c === 'none' ? '' : `.${c}`}: contents, modes, links; no owner from the archive`, async () => {
      const archive = await makeTarball(path.join(tmp, `good.tar${c === 'none' ? '' : `.${c}`}`), goodTree(TOP), c);
      const out = await extractArchive(archive, dest, TOP);
      expect(out).toBe(path.join(dest, TOP));
      expect(readdirSync(dest)).toEqual([TOP]); // no temp dir left beside it
      expect(readFileSync(path.join(out, 'configure'), 'utf8')).toContain('configured');
      expect(statSync(path.join(out, 'configure')).mode & 0o777).toBe(0o755);
      expect(statSync(path.join(out, 'README')).mode & 0o777).toBe(0o644);
      // read-only files stay read-only for others but writable by the owner (patches apply)
      expect(statSync(path.join(out, 'src/main.c')).mode & 0o777).toBe(0o644);
      // setuid is dropped, the exec bits stay
      expect(statSync(path.join(out, 'scripts/gen.sh')).mode & 0o7777).toBe(0o755);
      expect(readlinkSync(path.join(out, 'include'))).toBe('src');
      expect(readlinkSync(path.join(out, 'src/up'))).toBe('../README');
      expect(statSync(path.join(out, 'README.hardlink')).ino).toBe(statSync(path.join(out, 'README')).ino);
      // the archive says uid 4242; extraction does not hand files to that user
      expect(statSync(path.join(out, 'README')).uid).toBe(process.getuid!());
      const r = await execa(path.join(out, 'configure'));
      expect(r.stdout).toBe('configured');
    });
  }

  it('detects the format by magic bytes, not by name', async () => {
    const archive = await makeTarball(path.join(tmp, 'really-xz.tar.gz'), goodTree(TOP), 'xz');
    expect(detectCompression(readFileSync(archive).subarray(0, 512))).toBe('xz');
    const out = await extractArchive(archive, dest, TOP);
    expect(readFileSync(path.join(out, 'README'), 'utf8')).toBe('hello\n');
  });

  it('accepts "./"-prefixed members and replaces an older tree atomically', async () => {
    await mkdir(path.join(dest, TOP));
    await writeFile(path.join(dest, TOP, 'stale'), 'old');
    const archive = await makeTarball(
      path.join(tmp, 'dot.tar.gz'),
      [{ name: '.', type: 'dir' }, { name: `./${TOP}`, type: 'dir' }, { name: `./${TOP}/README`, type: 'file', data: 'new\n' }],
    );
    const out = await extractArchive(archive, dest, TOP);
    expect(readdirSync(out)).toEqual(['README']);
    expect(readdirSync(dest)).toEqual([TOP]);
  });

  it('a refused archive leaves an existing tree in place', async () => {
    await mkdir(path.join(dest, TOP));
    await writeFile(path.join(dest, TOP, 'keep'), 'old');
    const archive = await makeTarball(path.join(tmp, 'bad.tar.gz'), [...base(), { name: `${TOP}/dev`, type: 'chr' }]);
    await expect(extractArchive(archive, dest, TOP)).rejects.toThrow(ExtractError);
    expect(readdirSync(dest)).toEqual([TOP]);
    expect(readdirSync(path.join(dest, TOP))).toEqual(['keep']);
  });

  it('says which tool is missing for xz', async () => {
    const archive = await makeTarball(path.join(tmp, 'good.tar.xz'), goodTree(TOP), 'xz');
    const saved = process.env.PATH;
    process.env.PATH = path.join(tmp, 'empty-bin');
    try {
      await expect(extractArchive(archive, dest, TOP)).rejects.toThrow(MissingToolError);
    } finally {
      process.env.PATH = saved;
    }
    expect(readdirSync(dest)).toEqual([]);
  });

  it('is cancellable', async () => {
    const archive = await makeTarball(path.join(tmp, 'good.tar.bz2'), goodTree(TOP), 'bz2');
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(extractArchive(archive, dest, TOP, { signal: ac.signal })).rejects.toThrow('stop');
    expect(readdirSync(dest)).toEqual([]);
  });
});
