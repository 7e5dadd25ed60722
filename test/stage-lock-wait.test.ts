// Waiting for another process that produces the same cache entry is visible and cancellable.
// (Hostile run, defect 10: a stage-lock wait printed nothing, and Ctrl-C during it acted only when
// the other build finished, 20 s later in that run: the runner gave the lock no signal.)
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { StageCache } from '../src/cache/index.ts';
import { processStart } from '../src/lock.ts';
import { runGraph } from '../src/pipeline/runner.ts';
import { fakeStages } from './helpers/fakeStages.ts';

const children: { kill(): boolean }[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill();
});

describe('a stage whose cache entry another process is producing', () => {
  it('says it waits, naming the holder; an abort ends the wait at once and the stage never runs', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nf-stage-lock-'));
    const cache = new StageCache(path.join(dir, 'stages'));
    // the "other build": a live process recorded as the holder of stage a's entry lock
    const other = execa('sleep', ['60'], { reject: false });
    children.push(other);
    const pid = other.pid!;
    const lock = cache.lockFile('a', 'key-a');
    mkdirSync(path.dirname(lock), { recursive: true });
    writeFileSync(lock, JSON.stringify({ pid, start: processStart(pid), host: os.hostname(), nonce: 'other', since: new Date().toISOString() }));

    let ran = false;
    const f = fakeStages({
      a: async () => {
        ran = true;
      },
    });
    const updates: string[] = [];
    const controller = new AbortController();
    const done = runGraph(
      f.stages,
      f.modeOf,
      f.implOf,
      cache,
      { targets: ['a'], slots: 1, signal: controller.signal, logFor: (id) => path.join(dir, `${id}.log`) },
      {
        update: (id, text) => {
          updates.push(`${id}: ${text}`);
          controller.abort(new Error('interrupted'));
        },
      },
    );
    await expect(done).rejects.toThrow();
    expect(updates).toEqual([`a: waiting for another build of this stage (pid ${pid}); Ctrl-C stops waiting`]);
    expect(ran).toBe(false);
    expect(cache.lookup('a', 'key-a')).toBeUndefined();
  }, 20_000);

  it('a stale lock (a garbage file, a dead holder) is taken over with one line saying so, never silently (hostile run 3, NEW-19)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nf-stage-lock-'));
    const cache = new StageCache(path.join(dir, 'stages'));
    const garbage = cache.lockFile('a', 'key-a');
    mkdirSync(path.dirname(garbage), { recursive: true });
    writeFileSync(garbage, 'not a lock owner \x00\x01');
    // unreadable owner files count as stale only once they are 2 s old (a writer may be mid-write)
    const old = new Date(Date.now() - 10_000);
    utimesSync(garbage, old, old);
    const dead = execa('true', { reject: false });
    await dead;
    const deadLock = cache.lockFile('b', 'key-b');
    mkdirSync(path.dirname(deadLock), { recursive: true });
    writeFileSync(deadLock, JSON.stringify({ pid: dead.pid, start: 'gone', host: os.hostname(), nonce: 'dead', since: new Date().toISOString() }));

    let ran = 0;
    const f = fakeStages({ a: async () => void ran++, b: async () => void ran++ });
    const lines: string[] = [];
    await runGraph(f.stages, f.modeOf, f.implOf, cache, { targets: ['a', 'b'], slots: 1, logFor: (id) => path.join(dir, `${id}.log`) }, { refused: (id, line) => lines.push(`${id}|${line}`) });
    expect(ran).toBe(2);
    expect(lines.sort()).toEqual([
      `a|cache: a: took over the stale lock ${garbage} (the lock file is unreadable)`,
      `b|cache: b: took over the stale lock ${deadLock} (its holder (pid ${dead.pid}) is no longer running)`,
    ]);
    expect(cache.lookup('a', 'key-a')).toBeDefined();
  }, 20_000);
});
