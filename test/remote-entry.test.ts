// A cache entry packed on one machine and unpacked on another is the same entry, or refused.
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { create } from 'tar';
import { describe, expect, it } from 'vitest';
import { MANIFEST, STAMPS, StageCache } from '../src/cache/index.ts';
import { ExtractError } from '../src/errors.ts';
import { ENTRY_TOPDIR, packEntry, unpackEntry } from '../src/remote/entry.ts';

const ID = 'library:openssl';

async function pusher() {
  const root = mkdtempSync(path.join(tmpdir(), 'nf-remote-entry-'));
  const cache = new StageCache(path.join(root, 'a'));
  const { dir } = await cache.produce(ID, 'k1', async (tmp) => {
    mkdirSync(path.join(tmp, 'root/lib'), { recursive: true });
    mkdirSync(path.join(tmp, 'root/bin'), { recursive: true });
    writeFileSync(path.join(tmp, 'root/lib/libssl.a'), 'static archive bytes');
    writeFileSync(path.join(tmp, 'root/bin/openssl'), '\x7fELF tool');
    chmodSync(path.join(tmp, 'root/bin/openssl'), 0o755);
    symlinkSync('libssl.a', path.join(tmp, 'root/lib/libssl.so'));
    return { toolchain: 'cc 12' };
  });
  const layer = path.join(root, 'layer.tar.gz');
  await packEntry(dir, layer);
  return { root, cache, dir, layer };
}

/** The tree of an entry (names, types, modes, bytes or link targets), the stamps left out. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const n of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (r === STAMPS) continue;
      const st = lstatSync(path.join(dir, r));
      if (st.isSymbolicLink()) out[r] = `l ${readlinkSync(path.join(dir, r))}`;
      else if (st.isDirectory()) {
        out[r] = `d ${(st.mode & 0o7777).toString(8)}`;
        walk(r);
      } else out[r] = `f ${(st.mode & 0o7777).toString(8)} ${readFileSync(path.join(dir, r), 'base64')}`;
    }
  };
  walk('');
  return out;
}

/** Repack the pusher's entry with `change` applied to a copy of its tree. */
async function tampered(root: string, dir: string, change: (copy: string) => void): Promise<string> {
  const work = mkdtempSync(path.join(root, 'tamper-'));
  const copy = path.join(work, ENTRY_TOPDIR);
  await import('node:fs').then((fs) => fs.cpSync(dir, copy, { recursive: true, verbatimSymlinks: true }));
  change(copy);
  const out = path.join(work, 'layer.tar.gz');
  await create({ gzip: true, file: out, cwd: work, portable: true }, [ENTRY_TOPDIR]);
  return out;
}

describe('a packed stage-cache entry', () => {
  it('unpacks on another machine into the same entry: tree, modes and links equal, the entry passes the cache check, stamps made anew', async () => {
    const { root, dir, layer } = await pusher();
    const other = new StageCache(path.join(root, 'b'));
    const r = await unpackEntry(other, ID, 'k1', layer);
    expect('dir' in r && r.dir).toBe(other.entryDir(ID, 'k1'));
    expect(tree(other.entryDir(ID, 'k1'))).toEqual(tree(dir));
    expect(other.verify(ID, 'k1', { deep: true })).toMatchObject({ ok: true });
    expect(other.meta(ID, 'k1')!.toolchain).toBe('cc 12');
    expect(existsSync(path.join(other.entryDir(ID, 'k1'), STAMPS))).toBe(true);
    // nothing left beside the entry
    expect(readdirSync(path.dirname(other.entryDir(ID, 'k1'))).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('unpacked as another key: refused (meta.json names k1), nothing kept', async () => {
    const { root, layer } = await pusher();
    const other = new StageCache(path.join(root, 'b'));
    const r = await unpackEntry(other, ID, 'k2', layer);
    expect('refused' in r && r.refused.what).toMatch(/names stage library:openssl key k1, but the entry lies at stage library:openssl key k2/);
    expect(other.lookup(ID, 'k2')).toBeUndefined();
    expect(readdirSync(path.dirname(other.entryDir(ID, 'k2'))).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('other bytes, an added file, a changed mode, a manifest rewritten: each refused with what differs', async () => {
    const { root, dir } = await pusher();
    const cases: [string, (c: string) => void, RegExp][] = [
      ['bytes', (c) => writeFileSync(path.join(c, 'root/lib/libssl.a'), 'static archive BYTES'), /has other bytes than when the entry was made/],
      ['added', (c) => writeFileSync(path.join(c, 'root/lib/extra'), 'x'), /is not in the manifest/],
      ['mode', (c) => chmodSync(path.join(c, 'root/bin/openssl'), 0o700), /has mode 0700, the manifest records 0755/],
      ['manifest', (c) => writeFileSync(path.join(c, MANIFEST), readFileSync(path.join(c, MANIFEST), 'utf8').replace('"v":2', '"v":2 ')), /was changed/],
    ];
    for (const [name, change, what] of cases) {
      const other = new StageCache(path.join(root, `b-${name}`));
      const r = await unpackEntry(other, ID, 'k1', await tampered(root, dir, change));
      expect(r, name).toHaveProperty('refused');
      expect('refused' in r && r.refused.what, name).toMatch(what);
      expect(other.lookup(ID, 'k1'), name).toBeUndefined();
    }
  });

  it('a hostile archive (a member outside entry/, a link out of the tree) is an extraction error, nothing written', async () => {
    const { root, dir } = await pusher();
    const other = new StageCache(path.join(root, 'b'));
    const link = await tampered(root, dir, (c) => symlinkSync('/etc/passwd', path.join(c, 'root/lib/passwd')));
    await expect(unpackEntry(other, ID, 'k1', link)).rejects.toBeInstanceOf(ExtractError);
    const work = mkdtempSync(path.join(root, 'second-'));
    mkdirSync(path.join(work, ENTRY_TOPDIR));
    writeFileSync(path.join(work, 'stray'), 'x');
    const two = path.join(work, 'two.tar.gz');
    await create({ gzip: true, file: two, cwd: work, portable: true }, [ENTRY_TOPDIR, 'stray']);
    await expect(unpackEntry(other, ID, 'k1', two)).rejects.toBeInstanceOf(ExtractError);
    expect(other.lookup(ID, 'k1')).toBeUndefined();
    expect(readdirSync(path.dirname(other.entryDir(ID, 'k1'))).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('an intact local entry is kept when the same key arrives again', async () => {
    const { root, layer } = await pusher();
    const other = new StageCache(path.join(root, 'b'));
    await unpackEntry(other, ID, 'k1', layer);
    const before = lstatSync(path.join(other.entryDir(ID, 'k1'), 'root/lib/libssl.a')).ino;
    await unpackEntry(other, ID, 'k1', layer);
    expect(lstatSync(path.join(other.entryDir(ID, 'k1'), 'root/lib/libssl.a')).ino).toBe(before);
  });
});
