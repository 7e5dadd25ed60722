// The one stage runner, on fake stages: what it decides, runs, caches, aborts and resumes.
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { StageCache } from '../src/cache/index.ts';
import { lastLine, runGraph, Timings, type RunnerOptions } from '../src/pipeline/runner.ts';
import { fakeStages, type Body } from './helpers/fakeStages.ts';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'nf-runner-'));
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });

function setup(bodies: Partial<Record<'a' | 'b' | 'c', Body>>, keys: Partial<Record<'a' | 'b' | 'c', string>> = {}, dir = tmp()) {
  const f = fakeStages(bodies, keys);
  const cache = new StageCache(path.join(dir, 'stages'));
  const opts: RunnerOptions = { targets: ['c'], slots: 2, logFor: (id) => path.join(dir, `${id}.log`) };
  return { ...f, cache, dir, run: (o: Partial<RunnerOptions> = {}) => runGraph(f.stages, f.modeOf, f.implOf, cache, { ...opts, ...o }) };
}

describe('runner: parallelism', () => {
  for (const slots of [1, 2]) {
    it(`independent stages run side by side up to the slots (${slots})`, async () => {
      let now = 0;
      let max = 0;
      const body: Body = async () => {
        max = Math.max(max, ++now);
        await sleep(150);
        now--;
      };
      const t = setup({ a: body, b: body, c: async () => ({ ok: true }) });
      const r = await t.run({ slots });
      expect(max).toBe(slots);
      expect(Object.fromEntries([...r.results.values()].map((x) => [x.id, x.status]))).toEqual({ a: 'built', b: 'built', c: 'built' });
    });
  }

  it('a stage starts only after every stage it depends on has finished', async () => {
    const order: string[] = [];
    const t = setup({
      a: async () => { await sleep(100); order.push('a'); },
      b: async () => { order.push('b'); },
      c: async (ctx) => { order.push('c'); return { a: ctx.input('a').dir, b: ctx.input('b').dir }; },
    });
    const r = await t.run();
    expect(order.at(-1)).toBe('c');
    const c = r.outputs.get('c')!.value as { a: string; b: string };
    expect(c.a).toBe(t.cache.lookup('a', 'key-a'));
  });

  it('slots go to the stage that took longest last time', async () => {
    const order: string[] = [];
    const dir = tmp();
    const timings = new Timings(path.join(dir, 'timings.json'));
    timings.set('b', 300);
    timings.set('a', 10);
    const t = setup({ a: async () => { order.push('a'); }, b: async () => { order.push('b'); } }, {}, dir);
    await t.run({ slots: 1, timings });
    expect(order).toEqual(['b', 'a']);
  });

  it('on a first build (no timings) slots go by the caller\'s estimates; a measured time wins over an estimate', async () => {
    const run = async (timings: Timings) => {
      const order: string[] = [];
      const dir = tmp();
      const t = setup({ a: async () => { order.push('a'); }, b: async () => { order.push('b'); } }, {}, dir);
      await t.run({ slots: 1, timings, estimate: (id: string) => ({ a: 5, b: 90 })[id] });
      return order;
    };
    const dir = tmp();
    expect(await run(new Timings(path.join(dir, 'none.json')))).toEqual(['b', 'a']);
    const measured = new Timings(path.join(dir, 'measured.json'));
    measured.set('a', 200);
    measured.set('b', 100);
    expect(await run(measured)).toEqual(['a', 'b']);
  });
});

describe('runner: tokens for the critical path', () => {
  it('a token waits for a longer stage that is about to be ready (only I/O ahead of it) instead of going to a short one', async () => {
    // x (I/O, no token, 150 ms) -> long (needs a token, took 300 s last time); short (needs a token, ready at once)
    const dir = tmp();
    const stage = (id: string, kind: 'fetch' | 'library' | 'install', deps: string[]) => ({ id, kind, key: `k-${id}`, deps, keyInputs: { inputs: {}, code: {}, deps: {} } });
    const stages = [stage('x', 'fetch', []), stage('long', 'library', ['x']), stage('short', 'install', [])];
    const order: string[] = [];
    const bodies: Record<string, () => Promise<unknown>> = {
      fetch: async () => sleep(150),
      library: async () => { order.push('long'); },
      install: async () => { order.push('short'); },
    };
    const timings = new Timings(path.join(dir, 'timings.json'));
    timings.set('long', 300);
    timings.set('short', 5);
    await runGraph(stages, () => 'none', async (k) => ({ run: bodies[k]! }), new StageCache(path.join(dir, 'stages')), {
      targets: ['long', 'short'], slots: 1, timings, logFor: (id) => path.join(dir, `${id}.log`), tokenFree: (k) => k === 'fetch',
    });
    expect(order).toEqual(['long', 'short']);
  });
});

describe('runner: failure', () => {
  it('a failing stage aborts the running ones and the rest never start; nothing half-made is cached', async () => {
    let aAborted = false;
    let cRan = false;
    const t = setup({
      a: async (ctx) => {
        writeFileSync(path.join(ctx.out, 'partial'), 'x');
        try {
          await sleep(5_000, ctx.signal);
        } catch (e) {
          aAborted = true;
          throw e;
        }
      },
      b: async () => {
        await sleep(50);
        throw new Error('b broke');
      },
      c: async () => { cRan = true; },
    });
    await expect(t.run({ slots: 2 })).rejects.toThrow('b broke');
    expect(aAborted).toBe(true);
    expect(cRan).toBe(false);
    expect(t.cache.lookup('a', 'key-a')).toBeUndefined();
    expect(t.cache.lookup('b', 'key-b')).toBeUndefined();
    // no temp directory is left behind either
    expect(readdirSync(path.join(t.dir, 'stages', 'a')).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('an interrupt (the caller\'s signal) stops everything and says so', async () => {
    const ac = new AbortController();
    const t = setup({ a: async (ctx) => sleep(5_000, ctx.signal), b: async (ctx) => sleep(5_000, ctx.signal) });
    setTimeout(() => ac.abort(new Error('interrupted by the user')), 50);
    await expect(t.run({ signal: ac.signal })).rejects.toThrow('interrupted by the user');
  });
});

describe('runner: cache', () => {
  it('a second run restores every stage and runs nothing; a changed key re-runs that stage and what depends on it', async () => {
    const ran: string[] = [];
    const body = (id: string): Body => async () => { ran.push(id); return id === 'c' ? { result: 1 } : { note: id }; };
    const dir = tmp();
    const bodies = { a: body('a'), b: body('b'), c: body('c') };
    await setup(bodies, {}, dir).run();
    expect(ran.sort()).toEqual(['a', 'b', 'c']);
    ran.length = 0;
    const again = await setup(bodies, {}, dir).run();
    expect(ran).toEqual([]);
    expect(Object.fromEntries([...again.results.values()].map((r) => [r.id, r.status]))).toEqual({ a: 'cached', b: 'cached', c: 'cached' });
    expect(again.outputs.get('c')!.value).toEqual({ result: 1 });
    expect(again.outputs.has('a')).toBe(false); // c is cached: a is not even restored
    expect(setup(bodies, {}, dir).cache.meta('a', 'key-a')!.note).toBe('a');
    // b's key changes (as when its inputs change): b runs, c's key would change with it
    const changed = await setup(bodies, { b: 'key-b2', c: 'key-c2' }, dir).run();
    expect(ran.sort()).toEqual(['b', 'c']);
    expect(Object.fromEntries([...changed.results.values()].map((r) => [r.id, r.status]))).toEqual({ a: 'cached', b: 'built', c: 'built' });
  });

  it('a cached target needs nothing: its inputs are not restored or run', async () => {
    const dir = tmp();
    await setup({}, {}, dir).run();
    const ran: string[] = [];
    const r = await setup({ a: async () => { ran.push('a'); }, b: async () => { ran.push('b'); } }, {}, dir).run();
    expect(ran).toEqual([]);
    expect(r.outputs.has('a')).toBe(false);
    expect(r.results.get('a')).toMatchObject({ status: 'cached', detail: 'not needed' });
  });

  it('--force produces every needed stage again', async () => {
    const dir = tmp();
    await setup({}, {}, dir).run();
    const ran: string[] = [];
    await setup({ a: async () => { ran.push('a'); }, b: async () => { ran.push('b'); }, c: async () => { ran.push('c'); } }, {}, dir).run({ force: true });
    expect(ran.sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('runner: what a cached target leaves out', () => {
  it('scratch stages before a restored one are skipped naming it, also along a chain', async () => {
    // fetch -> extract (scratch) -> lib (cached dir)
    const dir = tmp();
    const stage = (id: string, kind: 'fetch' | 'extract' | 'library', deps: string[]) => ({ id, kind, key: `k-${id}`, deps, keyInputs: { inputs: {}, code: {}, deps: {} } });
    const stages = [stage('f', 'fetch', []), stage('x', 'extract', ['f']), stage('lib', 'library', ['x'])];
    const modeOf = (k: string) => (k === 'library' ? 'dir' : 'none') as 'dir' | 'none';
    const cache = new StageCache(path.join(dir, 'stages'));
    const impl = async () => ({ run: async () => ({}) });
    await runGraph(stages, modeOf, impl, cache, { targets: ['lib'], slots: 1, logFor: (id) => path.join(dir, `${id}.log`) });
    const r = await runGraph(stages, modeOf, impl, cache, { targets: ['lib'], slots: 1, logFor: (id) => path.join(dir, `${id}.log`) });
    expect(r.results.get('lib')!.status).toBe('cached');
    expect(r.results.get('x')).toMatchObject({ status: 'skipped', detail: 'not needed: lib is cached' });
    expect(r.results.get('f')).toMatchObject({ status: 'skipped', detail: 'not needed: lib is cached' });
  });
});

describe('runner: targets and skips', () => {
  it('a target runs only what it needs', async () => {
    const ran: string[] = [];
    const r = await setup({ a: async () => { ran.push('a'); }, b: async () => { ran.push('b'); } }).run({ targets: ['a'] });
    expect(ran).toEqual(['a']);
    expect(r.results.get('b')).toMatchObject({ status: 'skipped' });
    expect(r.results.get('c')).toMatchObject({ status: 'skipped' });
  });

  it('a skipped target is reported with its reason, and a skipped stage that another needs is an error', async () => {
    const r = await setup({}).run({ targets: ['a', 'b'], skip: { c: '--no-c' } });
    expect(r.results.get('c')).toEqual({ id: 'c', status: 'skipped', seconds: 0, detail: '--no-c' });
    await expect(setup({}).run({ targets: ['c'], skip: { a: 'no' } })).rejects.toThrow(/stage a is skipped \(no\) but c needs it/);
  });

  it('an unknown target names the stages there are', async () => {
    await expect(setup({}).run({ targets: ['zzz'] })).rejects.toThrow(/no stage zzz \(stages: a, b, c\)/);
  });
});

describe('runner: kill -9 and resume', () => {
  it('a process killed mid-build leaves the finished entries and no half-made one; the rerun reuses them', async () => {
    const dir = tmp();
    const markers = path.join(dir, 'markers');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(markers);
    const child = execa('node', ['--import', 'tsx', path.join(import.meta.dirname, 'helpers', 'runnerChild.ts'), path.join(dir, 'stages'), markers], { reject: false });
    const deadline = Date.now() + 30_000;
    while (!existsSync(path.join(markers, 'b-started')) && Date.now() < deadline) await sleep(50);
    expect(existsSync(path.join(markers, 'b-started'))).toBe(true);
    child.kill('SIGKILL');
    await child;
    const cache = new StageCache(path.join(dir, 'stages'));
    expect(cache.lookup('a', 'key-a')).toBeDefined();
    expect(cache.lookup('b', 'key-b')).toBeUndefined();
    const ran: string[] = [];
    const r = await setup({ a: async () => { ran.push('a'); }, b: async () => { ran.push('b'); }, c: async () => { ran.push('c'); } }, {}, dir).run();
    expect(ran).toEqual(['b', 'c']);
    expect(r.results.get('a')!.status).toBe('cached');
    // the killed run's temp directory was swept when b was produced again
    expect(readdirSync(path.join(dir, 'stages', 'b')).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('runner: progress', () => {
  it('reports elapsed time, last time\'s duration and the last line of the stage\'s log', async () => {
    const dir = tmp();
    const timings = new Timings(path.join(dir, 'timings.json'));
    timings.set('a', 42);
    const seen: { id: string; expected?: number; lastLine?: string }[] = [];
    const t = setup({
      a: async (ctx) => {
        writeFileSync(ctx.log, 'configure\ncompiling foo.c\n');
        await sleep(120);
      },
    }, {}, dir);
    await runGraph(t.stages, t.modeOf, t.implOf, t.cache, { targets: ['a'], slots: 1, logFor: (id) => path.join(dir, `${id}.log`), timings, tickMs: 20 }, {
      progress: (id, p) => seen.push({ id, expected: p.expected, lastLine: p.lastLine }),
    });
    expect(seen.some((s) => s.id === 'a' && s.expected === 42 && s.lastLine === 'compiling foo.c')).toBe(true);
    // this run's duration is kept for next time
    expect(new Timings(path.join(dir, 'timings.json')).get('a')).toBeLessThan(5);
  });

  it('lastLine reads the tail of a log', () => {
    const f = path.join(tmp(), 'x.log');
    writeFileSync(f, `${'x'.repeat(10_000)}\nfirst\n\nlast one\n\n`);
    expect(lastLine(f)).toBe('last one');
    expect(lastLine(path.join(tmp(), 'missing.log'))).toBeUndefined();
  });
});
