// What `build` runs and what it says while it runs, without a real build:
//   - `--until <stage>` is that stage's dependency closure in the plan's graph, nothing else
//     (library:pcre2 builds no OpenSSL and no nginx), and an unknown stage is exit 2 with the ids
//   - plain output (CI, pipes) writes each stage's start and finish when they happen, stamped with
//     that time and the real duration, also while a stage of another subtree runs beside it
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { StageCache } from '../src/cache/index.ts';
import { plainReporter, stamp } from '../src/commands/build.ts';
import { UsageError } from '../src/errors.ts';
import { KINDS } from '../src/kinds.ts';
import { buildTargets, stageClosure } from '../src/pipeline/index.ts';
import { runGraph, type StageImpl } from '../src/pipeline/runner.ts';
import { loadRecipes, PROJECT_ROOT } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { fakeStages, type Body } from './helpers/fakeStages.ts';

const tmp = (p = 'nf-progress-') => mkdtempSync(path.join(tmpdir(), p));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ktls = () => resolvePlan(loadRecipes(), 'ktls', { toolchain: { cc: 'gcc 12' } });

describe('build --until: the stage and what it needs, nothing else', () => {
  it('library:pcre2 on the ktls plan needs only fetch, extract and patch of pcre2', () => {
    const plan = ktls();
    expect(buildTargets(plan, 'library:pcre2')).toEqual(['library:pcre2']);
    expect(stageClosure(plan, buildTargets(plan, 'library:pcre2'))).toEqual(['fetch:pcre2', 'extract:pcre2', 'patch:pcre2', 'library:pcre2']);
  });

  it('install:nginx needs nginx and its libraries, not its twin nginx-debug; verify needs both binaries', () => {
    const plan = ktls();
    const nginx = stageClosure(plan, buildTargets(plan, 'install:nginx'));
    expect(nginx).toContain('library:openssl');
    expect(nginx).toContain('compile:nginx');
    expect(nginx.filter((id) => id.endsWith(':nginx-debug') || ['verify', 'smoke', 'artifacts'].includes(id))).toEqual([]);
    const verify = stageClosure(plan, buildTargets(plan, 'verify'));
    expect(verify).toEqual(expect.arrayContaining(['install:nginx', 'install:nginx-debug', 'verify']));
    expect(verify).not.toContain('smoke');
    expect(verify).not.toContain('artifacts');
  });

  it('without --until: the binaries and every stage nothing depends on, i.e. the whole plan', () => {
    const plan = ktls();
    expect(stageClosure(plan, buildTargets(plan))).toEqual(plan.stages.map((s) => s.id));
  });

  it('the runner given these targets runs exactly that closure (real plan, fake stage bodies)', async () => {
    const plan = ktls();
    const ran: string[] = [];
    const impl: StageImpl = { run: async (ctx) => void ran.push(ctx.stage.id) };
    const dir = tmp();
    const { results } = await runGraph(plan.stages, (k) => KINDS[k].cache, async () => impl, new StageCache(path.join(dir, 'stages')), {
      targets: buildTargets(plan, 'library:pcre2'),
      slots: 2,
      logFor: (id) => path.join(dir, `${id.replace(':', '-')}.log`),
    });
    expect(ran.sort()).toEqual(['extract:pcre2', 'fetch:pcre2', 'library:pcre2', 'patch:pcre2']);
    expect(results.get('library:openssl')).toMatchObject({ status: 'skipped', detail: 'not needed for the targets' });
    expect(results.get('install:nginx')?.status).toBe('skipped');
  });

  it('an unknown stage id is a usage error (exit 2) that lists the plan\'s stage ids', () => {
    const plan = ktls();
    let e: unknown;
    try {
      buildTargets(plan, 'library:pcre3');
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(2);
    expect((e as UsageError).message).toBe('--until library:pcre3: the plan of profile ktls has no such stage');
    expect((e as UsageError).hint).toContain('fetch:nginx, extract:nginx, patch:nginx');
    expect((e as UsageError).hint).toContain('library:pcre2');
  });

  it('through the CLI: exit 2 before anything runs', async () => {
    const dir = tmp();
    const home = path.join(dir, 'home');
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'build', '--profile', 'ktls', '--until', 'library:pcre3'], { reject: false, cwd: dir, env: { NGINX_FORGE_HOME: home, CI: '1' } });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain('--until library:pcre3: the plan of profile ktls has no such stage');
    expect(r.stderr).toMatch(/stage ids: .*library:pcre2/);
    // no stage ran: no logs, no stage cache, no scratch tree
    expect(readdirSync(home).filter((f) => ['logs', 'stages', 'work'].includes(f))).toEqual([]);
  });
});

interface Written {
  line: string;
  /** the clock when the line was written */
  at: number;
  /** whether stage a (the long one) had finished then */
  aDone: boolean;
}

describe('plain progress: every line when its event happens', () => {
  it('two parallel stages: the short one\'s finish is written while the long one still runs, each with its own time and duration', async () => {
    let aDone = false;
    let clock = 0;
    const written: Written[] = [];
    const events = plainReporter({
      title: (id) => `stage ${id}`,
      now: () => (clock = Date.now()),
      write: (line) => written.push({ line, at: clock, aDone }),
    });
    const long: Body = async () => {
      await sleep(1600);
      aDone = true;
    };
    const short: Body = async () => sleep(100);
    const f = fakeStages({ a: long, b: short, c: async () => ({ ok: true }) });
    const dir = tmp();
    const t0 = Date.now();
    await runGraph(f.stages, f.modeOf, f.implOf, new StageCache(path.join(dir, 'stages')), { targets: ['c'], slots: 2, logFor: (id) => path.join(dir, `${id}.log`) }, events);
    const lines = written.map((w) => w.line.replace(/^\[\d\d:\d\d:\d\d\] /, ''));
    // both start at once; b finishes first and is written at once, while a still runs
    expect(new Set(lines.slice(0, 2))).toEqual(new Set(['stage a: started', 'stage b: started']));
    expect(lines.slice(2)).toEqual(['stage b [built 0s]', 'stage a [built 2s]', 'stage c: started', 'stage c [built 0s]']);
    const bEnd = written.find((w) => w.line.endsWith('stage b [built 0s]'))!;
    const aEnd = written.find((w) => w.line.endsWith('stage a [built 2s]'))!;
    expect(bEnd.aDone).toBe(false);
    expect(bEnd.at - t0).toBeLessThan(1000);
    expect(aEnd.at - t0).toBeGreaterThanOrEqual(1600);
    // every line is stamped with the time it was written (HH:MM:SS, UTC), never a later or earlier one
    for (const w of written) expect(w.line.slice(0, 10)).toBe(`[${stamp(w.at)}]`);
    expect(stamp(aEnd.at) > stamp(bEnd.at) || aEnd.at - bEnd.at < 1000).toBe(true);
    expect(stamp(Date.UTC(2026, 0, 2, 20, 44, 11, 900))).toBe('20:44:11');
  });

  it('a cached stage is one line; a burst of status lines is thinned to the first and the newest, before the finish line', async () => {
    const written: string[] = [];
    const events = plainReporter({ title: (id) => `stage ${id}`, write: (l) => written.push(l.slice(11)), updateMs: 10_000 });
    const dir = tmp();
    const cache = new StageCache(path.join(dir, 'stages'));
    const f = fakeStages({
      a: async (ctx) => {
        for (let i = 1; i <= 50; i++) ctx.update(`${i} MB`);
        await sleep(20);
      },
    });
    const opts = { targets: ['c'], slots: 2, logFor: (id: string) => path.join(dir, `${id}.log`) };
    await runGraph(f.stages, f.modeOf, f.implOf, cache, opts, events);
    const a = written.filter((l) => l.startsWith('stage a'));
    expect(a).toEqual(['stage a: started', 'stage a: 1 MB', 'stage a: 50 MB', 'stage a [built 0s]']);
    written.length = 0;
    await runGraph(f.stages, f.modeOf, f.implOf, cache, opts, events);
    expect(written.sort()).toEqual(['stage a [cached]', 'stage b [cached]', 'stage c [cached]']);
  });

  it('a failure: the failing stage says why, the one aborted beside it is stopped', async () => {
    const written: string[] = [];
    const events = plainReporter({ title: (id) => `stage ${id}`, write: (l) => written.push(l.slice(11)) });
    const dir = tmp();
    const f = fakeStages({
      a: async (ctx) => {
        await new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
      },
      b: async () => {
        await sleep(50);
        throw new Error('make: *** [all] Error 2\nmore');
      },
    });
    await expect(runGraph(f.stages, f.modeOf, f.implOf, new StageCache(path.join(dir, 'stages')), { targets: ['c'], slots: 2, logFor: (id) => path.join(dir, `${id}.log`) }, events)).rejects.toThrow(/Error 2/);
    expect(written.filter((l) => !l.endsWith('started'))).toEqual(['stage b: failed (make: *** [all] Error 2)', 'stage a: stopped']);
  });
});
