import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ccacheEnv, parseStats, readStats, statsDelta } from '../src/pipeline/ccache.ts';
import { compileEnv } from '../src/pipeline/env.ts';
import { run } from '../src/exec.ts';

describe('--ccache', () => {
  it('parses print-stats and computes a delta', () => {
    const before = parseStats('direct_cache_hit\t2\npreprocessed_cache_hit\t1\ncache_miss\t5\nfoo\tbar\n');
    expect(before).toEqual({ direct_cache_hit: 2, preprocessed_cache_hit: 1, cache_miss: 5 });
    const after = { direct_cache_hit: 5, preprocessed_cache_hit: 1, cache_miss: 6 };
    expect(statsDelta(before, after)).toEqual({ hits: 3, misses: 1, hitRate: 0.75 });
    expect(statsDelta({}, {}).hitRate).toBe(0);
  });

  it('compiles through the masquerade dir: a second identical compile in another workspace is a hit', async () => {
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'nf-ccache-'));
    const compileIn = async () => {
      const ws = mkdtempSync(path.join(tmpdir(), 'nf-ws-'));
      writeFileSync(path.join(ws, 'a.c'), 'int forty_two(void) { return 42; }\n');
      const env: Record<string, string> = { ...compileEnv(ws, 1700000000, true), CCACHE_DIR: cacheDir };
      expect(env.PATH!.split(':')[0]).toMatch(/ccache/);
      await run({ component: 't', stage: 'compile', log: path.join(ws, 'log'), cwd: ws, env }, 'cc', ['-c', '-g', 'a.c', '-o', 'a.o']);
    };
    const s0 = await readStats({ CCACHE_DIR: cacheDir });
    await compileIn();
    const s1 = await readStats({ CCACHE_DIR: cacheDir });
    await compileIn();
    const s2 = await readStats({ CCACHE_DIR: cacheDir });
    expect(statsDelta(s0, s1)).toMatchObject({ hits: 0, misses: 1 });
    expect(statsDelta(s1, s2)).toMatchObject({ hits: 1, misses: 0 });
    expect(ccacheEnv('/x').CCACHE_BASEDIR).toBe('/x');
  });
});
