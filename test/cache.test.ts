import { existsSync, mkdtempSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { StageCache } from '../src/cache/index.ts';

const root = () => mkdtempSync(path.join(tmpdir(), 'nf-cache-'));

describe('stage cache', () => {
  it('commits an entry only when it is complete', async () => {
    const c = new StageCache(root());
    expect(c.lookup('build:x', 'k1')).toBeUndefined();
    const { dir, produced } = await c.produce('build:x', 'k1', async (tmp) => {
      writeFileSync(path.join(tmp, 'out'), 'data');
      expect(c.lookup('build:x', 'k1')).toBeUndefined(); // not visible while being produced
      return { note: 'n' };
    });
    expect(produced).toBe(true);
    expect(c.lookup('build:x', 'k1')).toBe(dir);
    expect(readFileSync(path.join(dir, 'out'), 'utf8')).toBe('data');
    expect(c.meta('build:x', 'k1')!.note).toBe('n');
  });

  it('a failing producer leaves nothing behind', async () => {
    const r = root();
    const c = new StageCache(r);
    await expect(c.produce('build:x', 'k', async (tmp) => {
      writeFileSync(path.join(tmp, 'half'), 'x');
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(c.lookup('build:x', 'k')).toBeUndefined();
    expect(readdirSync(path.join(r, 'build_x')).filter((f) => !f.includes('lock'))).toEqual([]);
  });

  it('a producer killed mid-way leaves no entry, and the next producer completes it', async () => {
    const r = root();
    const script = `
      import { StageCache } from ${JSON.stringify(path.resolve('src/cache/index.ts'))};
      import { writeFileSync } from 'node:fs';
      const c = new StageCache(${JSON.stringify(r)});
      await c.produce('build:x', 'k', async (tmp) => {
        writeFileSync(tmp + '/half', 'x');
        console.log('filling'); 
        await new Promise((res) => setTimeout(res, 60000));
      });`;
    const file = path.join(r, 'producer.mts');
    writeFileSync(file, script);
    const child = execa('node', ['--import', 'tsx', file], { reject: false, cwd: process.cwd() });
    let sawFill = false;
    child.stdout!.on('data', (d) => {
      if (String(d).includes('filling')) {
        sawFill = true;
        child.kill('SIGKILL');
      }
    });
    await child;
    expect(sawFill).toBe(true);
    // killed while filling: a temp dir exists, the entry does not
    expect(readdirSync(path.join(r, 'build_x')).some((f) => f.startsWith('k.tmp-'))).toBe(true);
    const c = new StageCache(r);
    expect(c.lookup('build:x', 'k')).toBeUndefined();
    // the dead process's lock goes stale; the next build takes over and sweeps the leftover
    const { produced } = await c.produce('build:x', 'k', async (tmp) => writeFileSync(path.join(tmp, 'full'), 'y'));
    expect(produced).toBe(true);
    const entries = readdirSync(path.join(r, 'build_x'));
    expect(entries.filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(existsSync(path.join(r, 'build_x', 'k', 'full'))).toBe(true);
    expect(existsSync(path.join(r, 'build_x', 'k', 'half'))).toBe(false);
  }, 120_000);

  it('two producers of the same entry: one fills, the other reuses it', async () => {
    const c = new StageCache(root());
    let fills = 0;
    const fill = async (tmp: string) => {
      fills++;
      await new Promise((res) => setTimeout(res, 300));
      writeFileSync(path.join(tmp, 'f'), 'z');
    };
    const [a, b] = await Promise.all([c.produce('s', 'k', fill), c.produce('s', 'k', fill)]);
    expect(fills).toBe(1);
    expect(a.dir).toBe(b.dir);
    expect([a.produced, b.produced].sort()).toEqual([false, true]);
  });
});
