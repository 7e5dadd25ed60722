// src/lock.ts: locks record their owner; a dead owner's lock is taken over at once, a live
// owner's never; old-style (proper-lockfile) lock directories are stale only when not refreshed.
import { mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, isLockHeld, lockState, processStart, tryLock } from '../src/lock.ts';

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-faults-lock-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const ownerFile = (file: string, pid: number, start?: string) =>
  writeFileSync(file, JSON.stringify({ pid, start, host: os.hostname(), nonce: `n${pid}`, since: new Date().toISOString() }));

describe('locks with an owner', () => {
  it('records pid and start time; released on release(); a second taker waits', async () => {
    const f = path.join(tmp, 'a.lock');
    const release = (await acquireLock(f)) as () => void;
    const o = JSON.parse(readFileSync(f, 'utf8'));
    expect(o.pid).toBe(process.pid);
    expect(o.start).toBe(processStart(process.pid));
    expect(isLockHeld(f)).toBe(true);
    expect(tryLock(f)).toBe(false);
    release();
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('a dead holder (its process exited) is taken over at once', async () => {
    const child = await execa('sh', ['-c', 'echo $$']);
    const dead = Number(child.stdout);
    const f = path.join(tmp, 'b.lock');
    ownerFile(f, dead);
    expect(lockState(f).state).toBe('stale');
    expect(isLockHeld(f)).toBe(false);
    expect(tryLock(f)).toBe(true);
    expect(JSON.parse(readFileSync(f, 'utf8')).pid).toBe(process.pid);
    expect(readdirSync(tmp)).toEqual(['b.lock']); // no temp or aside files
  });

  it('a reused pid (same pid, other start time) is not the holder', () => {
    const f = path.join(tmp, 'c.lock');
    ownerFile(f, process.ppid, 'not-the-start-time');
    expect(lockState(f).state).toBe('stale');
    ownerFile(f, process.ppid, processStart(process.ppid));
    expect(lockState(f).state).toBe('held');
    expect(tryLock(f)).toBe(false);
  });

  it('an old-style lock directory is stale only when not refreshed', () => {
    const f = path.join(tmp, 'd.lock');
    mkdirSync(f);
    expect(lockState(f).state).toBe('held');
    const old = new Date(Date.now() - 60_000);
    utimesSync(f, old, old);
    expect(lockState(f).state).toBe('stale');
    expect(tryLock(f)).toBe(true);
  });

  it('waiting is cancellable', async () => {
    const f = path.join(tmp, 'e.lock');
    ownerFile(f, process.ppid, processStart(process.ppid));
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop')), 300);
    await expect(acquireLock(f, { signal: ac.signal })).rejects.toThrow('stop');
  });
});
