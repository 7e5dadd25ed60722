// One pool of job tokens for the whole build: the runner's stages and every make share it.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../src/exec.ts';
import { JobServer, MemoryTokens } from '../src/pipeline/tokens.ts';

/** A Makefile with `n` jobs; each appends "start <t>" / "end <t>" (ms) to a shared journal. */
function makeDir(root: string, name: string, n: number, journal: string): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  const targets = Array.from({ length: n }, (_, i) => `j${i}`);
  const rule = (t: string) => `${t}:\n\t@echo "start $$(date +%s%3N)" >> ${journal}; sleep 0.4; echo "end $$(date +%s%3N)" >> ${journal}\n`;
  writeFileSync(path.join(dir, 'Makefile'), `all: ${targets.join(' ')}\n${targets.map(rule).join('')}`);
  return dir;
}

/** The most jobs that ran at the same time, from a journal of start/end lines. */
function maxConcurrent(journal: string): number {
  const ev = readFileSync(journal, 'utf8').trim().split('\n').map((l) => {
    const [k, t] = l.split(' ');
    return { t: Number(t), d: k === 'start' ? 1 : -1 };
  });
  ev.sort((a, b) => a.t - b.t || a.d - b.d); // an end before a start at the same ms
  let now = 0;
  let max = 0;
  for (const e of ev) max = Math.max(max, (now += e.d));
  return max;
}

describe('make jobserver', () => {
  it('two makes started at once share the N tokens: never more than N jobs in all', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'nf-js-'));
    const journal = path.join(root, 'journal');
    const js = await JobServer.create(root, 2);
    const ac = new AbortController();
    try {
      const stage = async (name: string) => {
        await js.acquire(ac.signal); // the stage's own token (make's implicit job)
        try {
          await run({ component: name, stage: 'library', log: path.join(root, `${name}.log`), cwd: makeDir(root, name, 4, journal), jobserver: { fd: js.fd, makeflags: js.makeflags } }, 'make', []);
        } finally {
          js.release();
        }
      };
      await Promise.all([stage('a'), stage('b')]);
    } finally {
      await js.close();
    }
    expect(readFileSync(journal, 'utf8').match(/^end /gm)).toHaveLength(8);
    expect(maxConcurrent(journal)).toBeLessThanOrEqual(2);
  });

  it('one make alone takes the free tokens: it runs N jobs at once', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'nf-js-'));
    const journal = path.join(root, 'journal');
    const js = await JobServer.create(root, 3);
    try {
      await js.acquire(new AbortController().signal);
      await run({ component: 'a', stage: 'library', log: path.join(root, 'a.log'), cwd: makeDir(root, 'a', 6, journal), jobserver: { fd: js.fd, makeflags: js.makeflags } }, 'make', []);
      js.release();
    } finally {
      await js.close();
    }
    expect(maxConcurrent(journal)).toBe(3);
    // make joined the jobserver (no "jobserver unavailable" warning in the log)
    expect(readFileSync(path.join(root, 'a.log'), 'utf8')).not.toMatch(/jobserver unavailable|warning/i);
  });

  it('a token a stage gives back goes to the runner\'s waiting stage, not to a make blocked on the FIFO', async () => {
    // 2 tokens: stage A holds one, a make (stage B) holds the other and wants more for its 4 jobs;
    // a third stage C waits. When A gives its token back, C must start at once, while B's make
    // still runs one job at a time (it never got A's token).
    const root = mkdtempSync(path.join(tmpdir(), 'nf-js-'));
    const journal = path.join(root, 'journal');
    const js = await JobServer.create(root, 2);
    const s = new AbortController().signal;
    try {
      await js.acquire(s); // A
      await js.acquire(s); // B's own
      const make = run({ component: 'b', stage: 'library', log: path.join(root, 'b.log'), cwd: makeDir(root, 'b', 4, journal), jobserver: { fd: js.fd, makeflags: js.makeflags } }, 'make', []);
      await new Promise((r) => setTimeout(r, 300)); // make is now blocked reading the empty FIFO
      let cStarted = 0;
      const c = js.acquire(s).then(() => (cStarted = Date.now()));
      await new Promise((r) => setTimeout(r, 100));
      const released = Date.now();
      js.release(); // A ends
      await c;
      expect(cStarted - released).toBeLessThan(30);
      await make;
      js.release(); // B
      js.release(); // C
      expect(maxConcurrent(journal)).toBe(1);
    } finally {
      await js.close();
    }
  });

  it('close() returns while a token read is still pending, and the waiter is rejected by its abort', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'nf-js-'));
    const js = await JobServer.create(root, 1);
    const ac = new AbortController();
    await js.acquire(ac.signal);
    const pending = js.acquire(ac.signal);
    ac.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    await js.close();
  });

  it('memory tokens: waiters get released tokens in order', async () => {
    const t = new MemoryTokens(1);
    const s = new AbortController().signal;
    await t.acquire(s);
    const order: number[] = [];
    const a = t.acquire(s).then(() => order.push(1));
    const b = t.acquire(s).then(() => order.push(2));
    t.release();
    await a;
    t.release();
    await b;
    expect(order).toEqual([1, 2]);
  });
});
