// Extraction faults: write errors during pass 2 (node-tar used to stall without 'close' and the
// process died with exit 13, leaving the temp dir), the limits on what an archive may expand to,
// and empty archives. Every case must give an ExtractError naming the archive and leave nothing
// in the destination.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExtractError } from '../src/errors.ts';
import { extractArchive } from '../src/archive/extract.ts';
import { makeTarball, type Member } from './helpers/tarball.ts';

const TOP = 'pkg-1.0';
let tmp: string;
let dest: string;

beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-faults-extract-'));
  dest = path.join(tmp, 'work');
  await mkdir(dest);
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function refused(p: Promise<unknown>): Promise<ExtractError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'extraction must fail').toBeInstanceOf(ExtractError);
  return err as ExtractError;
}

describe('write errors during extraction', () => {
  it('a member path too long for the file system: error names member and path, no partial tree', async () => {
    // 20 directories of 210 characters: each name is legal, the whole path is > PATH_MAX (4096)
    const deep = `${TOP}/${Array.from({ length: 20 }, (_, i) => String(i % 10).repeat(210)).join('/')}/file.c`;
    const archive = await makeTarball(path.join(tmp, 'deep.tar.gz'), [
      { name: TOP, type: 'dir' },
      { name: `${TOP}/README`, type: 'file', data: 'hi\n' },
      { name: deep, type: 'file', data: 'x'.repeat(100_000) },
      { name: `${TOP}/later.c`, type: 'file', data: 'int x;\n' },
    ]);
    const e = await refused(extractArchive(archive, dest, TOP));
    expect(e.message).toContain(archive);
    expect(e.message).toMatch(/failed to extract/);
    expect(e.message).toContain(`member "${TOP}/`);
    expect(e.message).toMatch(/ENAMETOOLONG/);
    expect(e.message).toContain(`cannot write ${path.join(dest, TOP)}`);
    expect(e.hint).toMatch(/partial tree was removed/);
    expect(readdirSync(dest)).toEqual([]);
  });

  it('a write error keeps the previous tree in place', async () => {
    await mkdir(path.join(dest, TOP));
    await writeFile(path.join(dest, TOP, 'keep'), 'old');
    const deep = `${TOP}/${Array.from({ length: 20 }, () => 'd'.repeat(220)).join('/')}/f`;
    const archive = await makeTarball(path.join(tmp, 'deep.tar.xz'), [{ name: TOP, type: 'dir' }, { name: deep, type: 'file', data: 'x' }], 'xz');
    await refused(extractArchive(archive, dest, TOP));
    expect(readdirSync(dest)).toEqual([TOP]);
    expect(readdirSync(path.join(dest, TOP))).toEqual(['keep']);
  });

  it('in a process of its own (as the CLI runs): a 300-character member name fails with exit 4 and the error, not a silent exit 13', async () => {
    const long = `${TOP}/${'n'.repeat(300)}.c`;
    const archive = await makeTarball(path.join(tmp, 'longname.tar.gz'), [
      { name: TOP, type: 'dir' },
      { name: `${TOP}/README`, type: 'file', data: 'hi\n' },
      { name: long, type: 'file', data: 'int x;\n' },
    ]);
    const child = path.join(import.meta.dirname, 'helpers', 'extractChild.ts');
    const r = await execa('node', ['--import', 'tsx', child, archive, dest, TOP], { reject: false, timeout: 60_000 });
    expect(r.exitCode, r.stderr).toBe(4);
    const out = JSON.parse(r.stdout) as { error: string; hint: string };
    expect(out.error).toContain(`failed to extract ${archive}: member "${long}"`);
    expect(out.error).toMatch(/ENAMETOOLONG/);
    expect(out.hint).toMatch(/partial tree was removed/);
    expect(readdirSync(dest)).toEqual([]); // no .extract-* temp dir left behind
  }, 70_000);

  it('the destination cannot be created: a readable error, not a crash', async () => {
    const archive = await makeTarball(path.join(tmp, 'ok.tar.gz'), [{ name: TOP, type: 'dir' }, { name: `${TOP}/a`, type: 'file', data: 'a' }]);
    const blocker = path.join(tmp, 'afile');
    await writeFile(blocker, 'not a directory');
    await expect(extractArchive(archive, path.join(blocker, 'sub'), TOP)).rejects.toThrow(/ENOTDIR|not a directory/i);
  });
});

describe('limits', () => {
  const many = (n: number): Member[] => [{ name: TOP, type: 'dir' }, ...Array.from({ length: n }, (_, i) => ({ name: `${TOP}/f${i}`, type: 'file' as const, data: 'x' }))];

  it('total uncompressed bytes', async () => {
    const archive = await makeTarball(path.join(tmp, 'big.tar.gz'), [{ name: TOP, type: 'dir' }, { name: `${TOP}/big`, type: 'file', data: 'a'.repeat(3_000_000) }]);
    const e = await refused(extractArchive(archive, dest, TOP, { limits: { maxBytes: 1_000_000 } }));
    expect(e.message).toContain(archive);
    expect(e.message).toMatch(/more than 976\.6 KiB/);
    expect(e.hint).toMatch(/decompression bomb/);
    expect(readdirSync(dest)).toEqual([]);
  });

  it('number of entries', async () => {
    const archive = await makeTarball(path.join(tmp, 'many.tar.gz'), many(60));
    const e = await refused(extractArchive(archive, dest, TOP, { limits: { maxEntries: 50 } }));
    expect(e.message).toMatch(/more than 50 entries/);
    expect(e.member).toBe(`${TOP}/f49`);
    expect(readdirSync(dest)).toEqual([]);
    // within the limit it extracts
    await extractArchive(archive, dest, TOP, { limits: { maxEntries: 61 } });
    expect(readdirSync(path.join(dest, TOP))).toHaveLength(60);
  });

  it('expansion ratio against the compressed size (a gzip bomb), judged above a floor', async () => {
    // 8 MB of one letter compresses about 1000x
    const archive = await makeTarball(path.join(tmp, 'bomb.tar.gz'), [{ name: TOP, type: 'dir' }, { name: `${TOP}/zeros`, type: 'file', data: 'a'.repeat(8_000_000) }]);
    const e = await refused(extractArchive(archive, dest, TOP, { limits: { ratioFloor: 1_000_000, maxRatio: 100 } }));
    expect(e.message).toContain(archive);
    expect(e.message).toMatch(/expands more than 100x/);
    expect(readdirSync(dest)).toEqual([]);
    // the default floor (64 MiB) lets this small archive through
    await extractArchive(archive, dest, TOP);
    expect(existsSync(path.join(dest, TOP, 'zeros'))).toBe(true);
  });

  it('a header that declares more bytes than the limit is refused before its body is read', async () => {
    const archive = await makeTarball(path.join(tmp, 'decl.tar'), [{ name: TOP, type: 'dir' }, { name: `${TOP}/big`, type: 'file', data: 'b'.repeat(200_000) }], 'none');
    const e = await refused(extractArchive(archive, dest, TOP, { limits: { maxBytes: 100_000 } }));
    expect(e.member).toBe(`${TOP}/big`);
    expect(e.message).toMatch(/declare more than/);
  });
});

describe('empty archives', () => {
  it('an empty tar (gzip and plain) is "empty", not "Unrecognized archive format"', async () => {
    const plain = path.join(tmp, 'empty.tar');
    await execa('tar', ['-cf', plain, '-T', '/dev/null']);
    const e1 = await refused(extractArchive(plain, dest, TOP));
    expect(e1.message).toMatch(/the archive is empty/);
    const gz = path.join(tmp, 'empty.tar.gz');
    await execa('sh', ['-c', `tar -cf - -T /dev/null | gzip > '${gz}'`]);
    const e2 = await refused(extractArchive(gz, dest, TOP));
    expect(e2.message).toContain(gz);
    expect(e2.message).toMatch(/the archive is empty/);
    expect(e2.message).not.toMatch(/Unrecognized/);
  });

  it('a zero-byte file', async () => {
    const f = path.join(tmp, 'zero.tar.gz');
    await writeFile(f, '');
    const e = await refused(extractArchive(f, dest, TOP));
    expect(e.message).toMatch(/empty \(0 bytes\)/);
    expect(readdirSync(dest)).toEqual([]);
  });
});
