// The runner and a remote stage cache: entries the local cache lacks are asked for before a stage
// would run (targets first), taken in only when verified, and what a run built is shared.
// The remote here is a directory of packed entries (src/remote/entry.ts), another machine's
// cache as it travels; the OCI registry behind the same interface is tested in remote-oci tests.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StageCache } from '../src/cache/index.ts';
import { packEntry, unpackEntry } from '../src/remote/entry.ts';
import { runGraph, type RemoteCache } from '../src/pipeline/runner.ts';
import type { PlanStage } from '../src/plan.ts';
import { fakeStages } from './helpers/fakeStages.ts';

/** Packed entries in a directory, named by stage and key. */
function dirRemote(dir: string, opts: { tamper?: (file: string) => void } = {}) {
  const asked: string[] = [];
  const pushed: string[] = [];
  const file = (st: PlanStage) => path.join(dir, `${st.id}-${st.key}.tar.gz`);
  const remote: RemoteCache = {
    async pull(st, cache, _signal, warn) {
      asked.push(st.id);
      if (!existsSync(file(st))) return undefined;
      opts.tamper?.(file(st));
      const r = await unpackEntry(cache, st.id, st.key, file(st));
      if ('refused' in r) {
        warn(`remote ${dir}: ${st.id}: ${r.refused.problem}; building it here`);
        return undefined;
      }
      return { dir: r.dir, from: 'the test remote' };
    },
    async push(st, entry) {
      if (existsSync(file(st))) return;
      await packEntry(entry, file(st));
      pushed.push(st.id);
    },
  };
  return { remote, asked, pushed };
}

function graph(home: string) {
  const runs: string[] = [];
  const f = fakeStages({
    a: async (ctx) => {
      runs.push('a');
      mkdirSync(path.join(ctx.out, 'root'), { recursive: true });
      writeFileSync(path.join(ctx.out, 'root/lib.a'), 'library bytes');
    },
    b: async (ctx) => {
      runs.push('b');
      writeFileSync(path.join(ctx.out, 'tree'), 'install tree');
    },
    c: async (ctx) => {
      runs.push('c');
      return { lib: readFileSync(path.join(ctx.input('a').dir!, 'root/lib.a'), 'utf8') };
    },
  });
  const cache = new StageCache(path.join(home, 'stages'));
  const refused: string[] = [];
  const run = (remote: RemoteCache, targets = ['c']) =>
    runGraph(f.stages, f.modeOf, f.implOf, cache, { targets, slots: 1, remote, logFor: (id) => path.join(home, `${id}.log`) }, { refused: (_id, l) => refused.push(l) });
  return { runs, run, cache, refused };
}

describe('runner with a remote stage cache', () => {
  it('a first machine builds and pushes every entry; a fresh one runs nothing, asks only for its target and has the same result', async () => {
    const store = mkdtempSync(path.join(tmpdir(), 'nf-remote-dir-'));
    const one = graph(mkdtempSync(path.join(tmpdir(), 'nf-remote-a-')));
    const r1 = dirRemote(store);
    await one.run(r1.remote);
    expect(one.runs.sort()).toEqual(['a', 'b', 'c']);
    expect(r1.pushed.sort()).toEqual(['a', 'b', 'c']);

    const two = graph(mkdtempSync(path.join(tmpdir(), 'nf-remote-b-')));
    const r2 = dirRemote(store);
    const { results, outputs } = await two.run(r2.remote);
    expect(two.runs).toEqual([]);
    expect(r2.asked).toEqual(['c']); // c is there: what it needs is never asked for
    expect(results.get('c')).toMatchObject({ status: 'cached', detail: 'from the test remote' });
    expect(outputs.get('c')!.value).toEqual({ lib: 'library bytes' });
    expect(r2.pushed).toEqual([]); // nothing it got from the remote goes back
  });

  it('a remote entry that fails the content check is not used: one line, the stage and what it needs are built here', async () => {
    const store = mkdtempSync(path.join(tmpdir(), 'nf-remote-dir-'));
    await graph(mkdtempSync(path.join(tmpdir(), 'nf-remote-a-'))).run(dirRemote(store).remote);
    // the packed c carries another stage's meta: as if the registry served a's entry under c's tag
    const two = graph(mkdtempSync(path.join(tmpdir(), 'nf-remote-b-')));
    const r2 = dirRemote(store, {
      tamper: (file) => {
        if (file.includes('/c-')) writeFileSync(file, readFileSync(file.replace(/\/c-key-c/, '/a-key-a')));
      },
    });
    await two.run(r2.remote);
    expect(two.refused).toHaveLength(1);
    expect(two.refused[0]).toMatch(/^remote .*: c: meta\.json names stage a key key-a, but the entry lies at stage c key key-c; building it here$/);
    expect(two.runs).toEqual(['c']); // a and b came from the remote when c asked for them
    expect(r2.asked.sort()).toEqual(['a', 'b', 'c']);
  });

  it('entries this machine holds but did not need this time are pushed too (the library an all-cached build skipped)', async () => {
    const g = graph(mkdtempSync(path.join(tmpdir(), 'nf-remote-a-')));
    const none = dirRemote(mkdtempSync(path.join(tmpdir(), 'nf-remote-none-')));
    await g.run(none.remote); // fills the local cache (and another remote)
    const r = dirRemote(mkdtempSync(path.join(tmpdir(), 'nf-remote-dir-')));
    await g.run(r.remote); // all cached: c restored, a and b not needed
    expect(g.runs.sort()).toEqual(['a', 'b', 'c']);
    expect(r.pushed.sort()).toEqual(['a', 'b', 'c']);
  });

  it('an empty remote: everything is built and pushed once; a second run pushes nothing', async () => {
    const store = mkdtempSync(path.join(tmpdir(), 'nf-remote-dir-'));
    const g = graph(mkdtempSync(path.join(tmpdir(), 'nf-remote-a-')));
    const r = dirRemote(store);
    await g.run(r.remote);
    await g.run(r.remote);
    expect(r.pushed.sort()).toEqual(['a', 'b', 'c']);
    expect(g.runs.sort()).toEqual(['a', 'b', 'c']);
  });
});
