// A tree with mount points in it is unmounted before it is removed, never deleted through.
// (The landing CI of stop 27: a debootstrap killed with its session left proc mounted in the
// chroot entry's temp directory; the next produce() swept it with a plain recursive remove and
// failed every package test with "EBUSY: resource busy or locked, rmdir …/root/proc". Through a
// bind mount the same remove deletes the host's files.)
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { StageCache } from '../src/cache/index.ts';
import { mountsUnder, removeTree, unmountUnder } from '../src/mounts.ts';
import { removeRoot } from '../src/package/chroot.ts';

const mounted: string[] = [];
const mount = async (args: string[], at: string) => {
  mkdirSync(at, { recursive: true });
  await execa('mount', [...args, at]);
  mounted.push(at);
};

afterEach(() => {
  // whatever a failing test left mounted goes, so that no later test deletes through it
  for (const at of mounted.splice(0)) unmountUnder(at);
});

describe('removing trees with mounts in them', () => {
  it('runs as root (CI does): mounting is how these cases are made', () => {
    expect(process.getuid?.(), 'this test mounts tmpfs, proc and bind mounts; run the suite as root').toBe(0);
  });

  it('produce() sweeps a killed build\'s temp dir with proc, a tmpfs and a bind mount in it: the entry is made, the mounts are gone, the bound directory keeps its files', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'nf-mounts-'));
    const cache = new StageCache(path.join(root, 'stages'));
    const final = cache.entryDir('chroot:t', 'k');
    const leftover = `${final}.tmp-999999-1`;
    await mount(['-t', 'proc', 'proc'], path.join(leftover, 'root', 'proc'));
    await mount(['-t', 'tmpfs', 'tmpfs'], path.join(leftover, 'root', 'run'));
    writeFileSync(path.join(leftover, 'root', 'run', 'pid'), '1\n');
    const host = path.join(root, 'host-dev');
    mkdirSync(host);
    writeFileSync(path.join(host, 'sentinel'), 'the host\'s file\n');
    await mount(['--bind', host], path.join(leftover, 'root', 'dev'));
    expect(mountsUnder(leftover)).toHaveLength(3);

    const { dir, produced } = await cache.produce('chroot:t', 'k', async (tmp) => {
      writeFileSync(path.join(tmp, 'file'), 'x');
    });
    expect(produced).toBe(true);
    expect(readFileSync(path.join(dir, 'file'), 'utf8')).toBe('x');
    expect(existsSync(leftover)).toBe(false);
    expect(mountsUnder(root)).toEqual([]);
    expect(readFileSync(path.join(host, 'sentinel'), 'utf8')).toBe('the host\'s file\n');
  });

  it('a stage that fails with a mount left in its temp dir: its own error is thrown, the temp dir and the mount are gone', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'nf-mounts-'));
    const cache = new StageCache(path.join(root, 'stages'));
    let tmpSeen = '';
    await expect(
      cache.produce('chroot:t', 'k', async (tmp) => {
        tmpSeen = tmp;
        await mount(['-t', 'proc', 'proc'], path.join(tmp, 'root', 'proc'));
        throw new Error('debootstrap killed');
      }),
    ).rejects.toThrow('debootstrap killed');
    expect(existsSync(tmpSeen)).toBe(false);
    expect(mountsUnder(root)).toEqual([]);
    expect(cache.lookup('chroot:t', 'k')).toBeUndefined();
  });

  it('removeRoot of a chroot copy with proc mounted; paths with a space in them', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'nf-mounts- spaced '));
    await mount(['-t', 'proc', 'proc'], path.join(root, 'proc'));
    await mount(['-t', 'tmpfs', 'tmpfs'], path.join(root, 'a dir', 'x'));
    expect(mountsUnder(root).sort()).toEqual([path.join(root, 'a dir', 'x'), path.join(root, 'proc')]);
    removeRoot(root);
    expect(existsSync(root)).toBe(false);
    expect(mountsUnder(path.dirname(root)).filter((m) => m.startsWith(root))).toEqual([]);
  });

  it('stacked mounts are all undone, deepest first', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'nf-mounts-'));
    const at = path.join(root, 'm');
    await mount(['-t', 'tmpfs', 'tmpfs'], at);
    await mount(['-t', 'tmpfs', 'tmpfs'], at);
    await mount(['-t', 'tmpfs', 'tmpfs'], path.join(at, 'inner'));
    removeTree(root);
    expect(existsSync(root)).toBe(false);
    expect(mountsUnder(tmpdir()).filter((m) => m.startsWith(root))).toEqual([]);
  });
});
