// A stage-cache entry that fails its own integrity check is rebuilt, not trusted. (A cache entry
// whose nginx binary had been deleted was served as "cached" and verify failed with
// "expected exit 0, got undefined".)
import { mkdtempSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MANIFEST, StageCache } from '../src/cache/index.ts';

const make = async () => {
  const c = new StageCache(mkdtempSync(path.join(tmpdir(), 'nf-faults-cache-')));
  let fills = 0;
  const fill = async (tmp: string) => {
    fills++;
    writeFileSync(path.join(tmp, 'nginx'), 'ELF binary bytes');
    symlinkSync('nginx', path.join(tmp, 'link'));
    return { note: 'x' };
  };
  const { dir } = await c.produce('install:nginx', 'k', fill);
  return { c, dir, fill, fills: () => fills };
};

describe('stage cache integrity', () => {
  it('records a manifest and serves an intact entry', async () => {
    const { c, dir } = await make();
    expect(c.lookup('install:nginx', 'k')).toBe(dir);
    const meta = c.meta('install:nginx', 'k')!;
    expect(meta.note).toBe('x');
    expect(meta.integrity).toMatchObject({ files: 2, bytes: 16 });
    expect(JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')).files).toMatchObject({ nginx: { t: 'f', size: 16, mode: expect.any(Number) }, link: { t: 'l', link: 'nginx' } });
    expect(c.verify('install:nginx', 'k', { deep: true })).toEqual({ ok: true, hashed: 16 });
  });

  it('a deleted file: the entry is not served, and produce() rebuilds it', async () => {
    const { c, dir, fill, fills } = await make();
    unlinkSync(path.join(dir, 'nginx'));
    const damaged: string[] = [];
    c.onDamaged = (line) => damaged.push(line);
    expect(c.lookup('install:nginx', 'k')).toBeUndefined();
    expect(damaged).toEqual([`cache: install:nginx: ${dir}/nginx is missing (the manifest records a regular file); rebuilding`]);
    const r = await c.produce('install:nginx', 'k', fill);
    expect(r.produced).toBe(true);
    expect(fills()).toBe(2);
    expect(readFileSync(path.join(r.dir, 'nginx'), 'utf8')).toBe('ELF binary bytes');
    expect(c.lookup('install:nginx', 'k')).toBe(dir);
  });

  it('a truncated file, a changed link, a changed manifest', async () => {
    let { c, dir } = await make();
    writeFileSync(path.join(dir, 'nginx'), 'short');
    expect(c.verify('install:nginx', 'k')).toMatchObject({ ok: false, problem: 'nginx has 5 bytes, the manifest records 16' });
    ({ c, dir } = await make());
    unlinkSync(path.join(dir, 'link'));
    symlinkSync('/etc/passwd', path.join(dir, 'link'));
    expect(c.lookup('install:nginx', 'k')).toBeUndefined();
    ({ c, dir } = await make());
    writeFileSync(path.join(dir, MANIFEST), '{}\n');
    expect(c.verify('install:nginx', 'k')).toMatchObject({ ok: false, problem: `${MANIFEST} was changed (its sha256 differs from the one in meta.json)` });
  });

  it('same size, other bytes: found without `deep` too (the write changed the file\'s stamp)', async () => {
    const { c, dir } = await make();
    writeFileSync(path.join(dir, 'nginx'), 'ELF binary BYTES');
    expect(c.verify('install:nginx', 'k')).toMatchObject({ ok: false, problem: expect.stringMatching(/^nginx has other bytes than when the entry was made/) });
    expect(c.verify('install:nginx', 'k', { deep: true }).ok).toBe(false);
  });

  it('an entry without a manifest (older format) is not trusted', async () => {
    const { c, dir } = await make();
    const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8'));
    delete meta.integrity;
    writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
    expect(c.lookup('install:nginx', 'k')).toBeUndefined();
  });

  it('lookup records the last use (the entry directory mtime) for gc', async () => {
    const { c, dir } = await make();
    const old = new Date(Date.now() - 86_400_000);
    utimesSync(dir, old, old);
    c.lookup('install:nginx', 'k');
    expect(Date.now() - statSync(dir).mtimeMs).toBeLessThan(10_000);
    rmSync(path.dirname(path.dirname(dir)), { recursive: true, force: true });
  });
});
