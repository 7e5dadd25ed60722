// The one stage runner. It walks a plan's stage graph by the stages' deps, and alone owns cache
// lookup/restore/store, parallelism, progress events, abort and failure. Stage kinds say how
// their output is kept (./kinds.ts); implementations (./registry.ts, or fakes in tests) only
// compute. Nothing here knows about nginx, components or rendering.
//
//   1. decide, from the targets backwards: a stage whose output is in the cache is restored and
//      needs nothing; any other stage runs, and so must (or be restored) everything it depends on.
//      Every entry is checked against its manifest before it is used (src/cache/index.ts): a
//      refused entry is reported in one line (events.refused) and its stage runs again. The bytes
//      of an entry a running stage reads (a library nginx links, the install tree a package
//      wraps) are always re-hashed; entries nothing reads in this run are trusted by their files'
//      stamps unless opts.verifyContent says otherwise
//   2. run: each stage starts when its deps are done and a slot is free (slots go to the stage
//      with the longest chain after it, by last time's durations or, on a first build, the
//      caller's estimates: the critical path is never starved); a failure aborts
//      the rest, the runner waits for running stages to stop, then throws the first error
import { setMaxListeners } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync, openSync, readSync, fstatSync, closeSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { PlanStage, StageKind } from '../plan.ts';
import { refusedLine, takenOverLine, type StageCache } from '../cache/index.ts';
import type { CacheMode } from '../kinds.ts';
import type { StageResult } from './types.ts';
import { MemoryTokens, type Tokens } from './tokens.ts';
import { ownerText, type LockOwner } from '../lock.ts';

/** What a stage shows while another process produces the same cache entry. */
export const waitingLine = (o?: LockOwner) => `waiting for another build of this stage${ownerText(o)}; Ctrl-C stops waiting`;

export interface StageOutput {
  /** cache entry directory ('dir' stages) */
  dir?: string;
  /** the stage's value: its result ('result' stages) or what run() returned ('none' stages) */
  value?: unknown;
  /** meta.json of a 'dir' entry */
  meta?: Record<string, unknown>;
}

export interface StageRunContext {
  stage: PlanStage;
  signal: AbortSignal;
  /** this stage's log file */
  log: string;
  /** 'dir' stages: the temp directory to fill; renamed into the cache when run() resolves */
  out: string;
  /** the output of a stage this one depends on */
  input(id: string): StageOutput;
  /** a line of progress */
  update(text: string): void;
}

export interface StageImpl {
  /** 'dir': returns extra meta.json fields; 'result': returns the JSON result; 'none': any value */
  run(ctx: StageRunContext): Promise<unknown>;
}

export interface Progress {
  elapsed: number;
  /** how long this stage took last time on this machine */
  expected?: number;
  /** the last line of its log */
  lastLine?: string;
}

export interface RunnerEvents {
  /** `runs`: the stage runs now (false: it is restored from the cache or not run, and ends at once) */
  start?(id: string, info: { runs: boolean; expected?: number }): void;
  update?(id: string, text: string): void;
  progress?(id: string, p: Progress): void;
  end?(id: string, r: StageResult): void;
  fail?(id: string, e: unknown): void;
  /** a cache entry failed its check and is rebuilt, or a stale lock of it was taken over: one line (stage, path, what) */
  refused?(id: string, line: string): void;
}

export interface RunnerOptions {
  /** stages whose outputs are wanted; everything they need is decided from them */
  targets: string[];
  /** stage id -> why it is not run (e.g. --no-smoke); such a stage must not be needed by another */
  skip?: Record<string, string>;
  /** ignore cache hits and produce every needed stage again */
  force?: boolean;
  /** job tokens: stages that need one (see tokenFree) run only while holding one */
  slots: number;
  /** the token pool (default: `slots` tokens in memory); a JobServer shares it with every make */
  tokens?: Tokens;
  /** kinds that run without a token (I/O only: fetch, extract, patch) */
  tokenFree?(kind: StageKind): boolean;
  signal?: AbortSignal;
  logFor(id: string): string;
  /** durations of earlier runs (ETA, scheduling priority); updated with this run's */
  timings?: Timings;
  /**
   * A stage's expected seconds when no earlier run on this machine measured it (a first build):
   * scheduling priority only, so the critical path starts first on a fresh machine too
   */
  estimate?(id: string): number | undefined;
  /** how often running stages report progress, ms (default 1000) */
  tickMs?: number;
  /**
   * Kinds whose restored entries get every file re-hashed even when nothing reads them in this
   * run (their bytes leave the machine: artifacts copied out, install trees a package wraps)
   */
  verifyContent?(kind: StageKind): boolean;
  /** called once the runner knows which stages will run, before any does (preflight checks) */
  beforeRun?(ids: string[]): Promise<void>;
  /**
   * A shared cache on other machines (src/remote/: an OCI registry). Asked for an entry the local
   * cache lacks, before the stage would run (targets first, so a warm remote serves the last
   * stages and what they need is never asked for); told of every entry this run built or used,
   * so that it can push what it lacks.
   */
  remote?: RemoteCache;
}

/** What the runner needs of a remote stage cache (src/remote/index.ts implements it). */
export interface RemoteCache {
  /**
   * The entry of this stage, taken into `cache` (verified by content as the entry of exactly this
   * stage and key), or undefined when no remote has one it may use: each refusal is reported in
   * one line through `warn` (registry, stage, reason), never thrown.
   */
  pull(st: PlanStage, cache: StageCache, signal: AbortSignal, warn: (line: string) => void): Promise<{ dir: string; from: string } | undefined>;
  /** Make the remote hold this entry; a failure is one `warn` line, never thrown. */
  push(st: PlanStage, dir: string, signal: AbortSignal, warn: (line: string) => void): Promise<void>;
}

export interface RunnerResult {
  results: Map<string, StageResult>;
  outputs: Map<string, StageOutput>;
}

/** Stage durations measured on this machine, kept in one small JSON file. */
export class Timings {
  private data: Record<string, number> = {};
  constructor(readonly file?: string) {
    if (file && existsSync(file)) {
      try {
        this.data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
      } catch {
        this.data = {};
      }
    }
  }
  get(id: string): number | undefined {
    return this.data[id];
  }
  set(id: string, seconds: number): void {
    this.data[id] = seconds;
  }
  save(): void {
    if (!this.file) return;
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.data, null, 2)}\n`);
    renameSync(tmp, this.file);
  }
}

/** The last non-empty line of a file, reading only its tail. */
export function lastLine(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 4096);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString('utf8').split(/[\r\n]+/).map((l) => l.trim()).filter(Boolean);
    const l = lines.at(-1);
    return l && l.length > 160 ? `${l.slice(0, 157)}…` : l;
  } finally {
    closeSync(fd);
  }
}

const secs = (ms: number) => Math.round(ms / 100) / 10;

export async function runGraph(
  stages: PlanStage[],
  modeOf: (kind: StageKind) => CacheMode,
  implOf: (kind: StageKind) => Promise<StageImpl>,
  cache: StageCache,
  opts: RunnerOptions,
  events: RunnerEvents = {},
): Promise<RunnerResult> {
  const byId = new Map(stages.map((s) => [s.id, s]));
  const get = (id: string) => {
    const s = byId.get(id);
    if (!s) throw new Error(`the plan has no stage ${id} (stages: ${stages.map((x) => x.id).join(', ')})`);
    return s;
  };
  const skip = opts.skip ?? {};
  const timings = opts.timings ?? new Timings();
  const results = new Map<string, StageResult>();
  const outputs = new Map<string, StageOutput>();

  // 1. decide
  const decision = new Map<string, 'cached' | 'run' | 'skip'>();
  const cachedDir = new Map<string, string>();
  /** entries whose every byte was hashed in this run */
  const hashed = new Set<string>();
  /** entries taken from the remote cache in this run: where from */
  const pulled = new Map<string, string>();
  const remoteSignal = opts.signal ?? new AbortController().signal;
  // `by`: the stage that runs and reads this one's output
  const need = async (id: string, by?: string): Promise<void> => {
    const prev = decision.get(id);
    if (prev === 'run' || prev === 'skip') return;
    if (prev === 'cached' && (by === undefined || hashed.has(id))) return;
    const st = get(id);
    if (prev === undefined && skip[id] !== undefined) {
      if (by) throw new Error(`stage ${id} is skipped (${skip[id]}) but ${by} needs it`);
      decision.set(id, 'skip');
      return;
    }
    const mode = modeOf(st.kind);
    if (mode !== 'none' && !opts.force) {
      const deep = by !== undefined || (opts.verifyContent?.(st.kind) ?? false);
      const c = cache.check(id, st.key, { deep });
      if (c.dir) {
        decision.set(id, 'cached');
        cachedDir.set(id, c.dir);
        if (deep) hashed.add(id);
        return;
      }
      if (c.refused) events.refused?.(id, refusedLine(id, c.refused));
      if (opts.remote) {
        const got = await opts.remote.pull(st, cache, remoteSignal, (line) => events.refused?.(id, line));
        if (got) {
          decision.set(id, 'cached');
          cachedDir.set(id, got.dir);
          hashed.add(id); // adopt() hashed every byte
          pulled.set(id, got.from);
          return;
        }
      }
    }
    decision.set(id, 'run');
    cachedDir.delete(id);
    for (const d of st.deps) await need(d, id);
  };
  for (const t of opts.targets) await need(t);

  const restore = (id: string, dir: string): StageOutput => {
    const st = get(id);
    const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>;
    const value = modeOf(st.kind) === 'result' ? JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8')) : undefined;
    return { dir, meta, value };
  };
  for (const st of stages) {
    if (decision.get(st.id) !== 'cached') continue;
    events.start?.(st.id, { runs: false });
    outputs.set(st.id, restore(st.id, cachedDir.get(st.id)!));
    const from = pulled.get(st.id);
    const r: StageResult = { id: st.id, status: 'cached', seconds: 0, ...(from ? { detail: `from ${from}` } : {}) };
    results.set(st.id, r);
    events.end?.(st.id, r);
  }

  // 2. run
  const controller = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, controller.signal]) : controller.signal;
  setMaxListeners(0, signal); // every running command listens for the abort
  setMaxListeners(0, controller.signal);
  const tokens = opts.tokens ?? new MemoryTokens(opts.slots);
  const tokenFree = (id: string) => opts.tokenFree?.(get(id).kind) ?? false;
  const running = new Map<string, { started: number; log: string }>();
  const tick = setInterval(() => {
    for (const [id, r] of running) {
      events.progress?.(id, { elapsed: secs(Date.now() - r.started), expected: timings.get(id), lastLine: lastLine(r.log) });
    }
  }, opts.tickMs ?? 1000);
  tick.unref();
  const failures: { id: string; error: unknown }[] = [];
  const promises = new Map<string, Promise<void>>();
  // priority: this stage's duration last time plus the longest chain after it
  const downstream = new Map<string, number>();
  const priorityOf = (id: string): number => {
    const known = downstream.get(id);
    if (known !== undefined) return known;
    const after = stages.filter((s) => s.deps.includes(id) && decision.get(s.id) === 'run').map((s) => priorityOf(s.id));
    const p = (timings.get(id) ?? opts.estimate?.(id) ?? 0) + Math.max(0, ...after);
    downstream.set(id, p);
    return p;
  };

  // Tokens go to the ready stage with the highest priority; one is held back while a stage of
  // higher priority is about to be ready (only I/O stages, which need no token, are still ahead
  // of it), so the critical path never waits behind a short build that started a moment earlier.
  const finished = new Set<string>();
  const admitted = new Set<string>();
  const ready: { id: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  let acquiring = false;
  const nearReady = (id: string) =>
    !admitted.has(id) &&
    !ready.some((r) => r.id === id) &&
    get(id).deps.every((d) => finished.has(d) || decision.get(d) !== 'run' || tokenFree(d));
  const dispatch = (): void => {
    if (acquiring || ready.length === 0 || signal.aborted) return;
    acquiring = true;
    tokens.acquire(signal).then(
      () => {
        acquiring = false;
        ready.sort((x, y) => priorityOf(y.id) - priorityOf(x.id));
        const best = ready[0]!;
        const waitFor = toRun.some((o) => !tokenFree(o) && nearReady(o) && priorityOf(o) > priorityOf(best.id));
        if (waitFor) {
          tokens.release(); // dispatched again when that stage is ready
          return;
        }
        ready.shift();
        admitted.add(best.id);
        best.resolve();
        dispatch();
      },
      (e) => {
        acquiring = false;
        for (const r of ready.splice(0)) r.reject(e);
      },
    );
  };
  signal.addEventListener('abort', () => {
    for (const r of ready.splice(0)) r.reject(signal.reason);
  }, { once: true });
  /** Resolves when the stage may start: at once for token-free stages, else with a token held. */
  const admit = (id: string): Promise<void> => {
    if (tokenFree(id)) {
      admitted.add(id);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      ready.push({ id, resolve, reject });
      dispatch();
    });
  };

  const execute = (id: string): Promise<void> => {
    let p = promises.get(id);
    if (p) return p;
    p = (async () => {
      const st = get(id);
      await Promise.all(st.deps.filter((d) => decision.get(d) === 'run').map(execute));
      signal.throwIfAborted();
      await admit(id);
      const started = Date.now();
      const log = opts.logFor(id);
      try {
        signal.throwIfAborted();
        running.set(id, { started, log });
        events.start?.(id, { runs: true, expected: timings.get(id) });
        const impl = await implOf(st.kind);
        const mode = modeOf(st.kind);
        const ctx = (out: string): StageRunContext => ({
          stage: st,
          signal,
          log,
          out,
          input: (dep: string) => {
            const o = outputs.get(dep);
            if (!o) throw new Error(`stage ${id} asked for ${dep}, which is not one of its finished inputs`);
            return o;
          },
          update: (text: string) => events.update?.(id, text),
        });
        if (opts.force && mode !== 'none') cache.remove(id, st.key);
        // another build (another process) producing the same entry: wait for it, visibly and cancellably
        const lockOpts = {
          signal,
          onWait: (o?: LockOwner) => events.update?.(id, waitingLine(o)),
          onTakeOver: (why: string) => events.refused?.(id, takenOverLine(id, cache.lockFile(id, st.key), why)),
        };
        if (mode === 'dir') {
          const { dir } = await cache.produce(id, st.key, async (tmp) => (await impl.run(ctx(tmp))) as Record<string, unknown> | void, lockOpts);
          outputs.set(id, restore(id, dir));
        } else if (mode === 'result') {
          const value = await impl.run(ctx(''));
          const { dir } = await cache.produce(id, st.key, async (tmp) => {
            writeFileSync(path.join(tmp, 'result.json'), `${JSON.stringify(value ?? null, null, 2)}\n`);
          }, lockOpts);
          outputs.set(id, restore(id, dir));
        } else {
          outputs.set(id, { value: await impl.run(ctx('')) });
        }
        const seconds = secs(Date.now() - started);
        timings.set(id, seconds);
        const r: StageResult = { id, status: 'built', seconds };
        results.set(id, r);
        events.end?.(id, r);
      } catch (e) {
        if (!signal.aborted || failures.length === 0) {
          if (!(opts.signal?.aborted)) failures.push({ id, error: e });
        }
        controller.abort(e);
        events.fail?.(id, e);
        throw e;
      } finally {
        running.delete(id);
        finished.add(id);
        if (!tokenFree(id)) tokens.release();
        dispatch();
      }
    })();
    promises.set(id, p);
    return p;
  };

  // started in priority order, so the first free slots go to the longest chains too
  const toRun = stages.filter((s) => decision.get(s.id) === 'run').map((s) => s.id).sort((a, b) => priorityOf(b) - priorityOf(a));
  if (toRun.length && opts.beforeRun) {
    try {
      await opts.beforeRun(toRun);
    } catch (e) {
      clearInterval(tick);
      throw e;
    }
  }
  const settled = await Promise.allSettled(toRun.map(execute));
  clearInterval(tick);
  timings.save();
  if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
  if (failures.length) throw failures[0]!.error;
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected) throw rejected.reason;

  // what was not needed: restorable entries say so, the rest is skipped, naming the cached stage
  // that made it unnecessary (consumers first, so a reason passes down a chain of scratch stages)
  for (const st of [...stages].reverse()) {
    if (results.has(st.id)) continue;
    const mode = modeOf(st.kind);
    let r: StageResult;
    if (skip[st.id] !== undefined) r = { id: st.id, status: 'skipped', seconds: 0, detail: skip[st.id] };
    else if (mode !== 'none' && cache.check(st.id, st.key).dir) r = { id: st.id, status: 'cached', seconds: 0, detail: 'not needed' };
    else {
      const consumers = stages.filter((s) => s.deps.includes(st.id)).map((s) => results.get(s.id)).filter((x): x is StageResult => x !== undefined);
      const cached = consumers.filter((c) => c.status === 'cached').map((c) => c.id);
      const inherited = consumers.find((c) => c.status === 'skipped' && c.detail?.startsWith('not needed: '))?.detail;
      r = {
        id: st.id,
        status: 'skipped',
        seconds: 0,
        detail: cached.length ? `not needed: ${cached.join(', ')} ${cached.length === 1 ? 'is' : 'are'} cached` : inherited ?? 'not needed for the targets',
      };
    }
    results.set(st.id, r);
  }
  for (const st of stages) {
    const r = results.get(st.id)!;
    if (r.status === 'built' || decision.get(st.id) === 'cached') continue;
    events.start?.(st.id, { runs: false });
    events.end?.(st.id, r);
  }
  // 3. share: the remote gets every entry of the plan this machine holds and the remote lacks
  // (built, used, or intact here but not needed this time: a library an all-cached build skipped
  // is what another runner with a changed nginx needs), not those the remote gave
  if (opts.remote) {
    for (const st of stages) {
      if (pulled.has(st.id) || modeOf(st.kind) === 'none') continue;
      const dir = outputs.get(st.id)?.dir ?? cache.check(st.id, st.key).dir;
      if (dir) await opts.remote.push(st, dir, remoteSignal, (line) => events.refused?.(st.id, line));
    }
  }
  return { results, outputs };
}
