// `nginx-forge build`: runs the orchestrator and renders its events: a live listr2 task tree on a
// TTY; plain lines when not a TTY or under CI, each written when its event happens (plainReporter:
// a stage's start and finish with the real time and duration, also while other subtrees run);
// silent with --json.
import { Listr, type ListrTask } from 'listr2';
import { buildTargets, runBuild, type BuildEvents, type BuildSummary, type StageResult } from '../pipeline/index.ts';
import { KINDS } from '../kinds.ts';
import type { Progress } from '../pipeline/runner.ts';
import { server, type BuildPlan } from '../plan.ts';
import { plainOutput } from '../paths.ts';
import { terminalSafe } from '../terminal.ts';
import { displayPath } from '../recipes/load.ts';
import { fetchOptionsOf, type FetchFlags } from '../flags/fetch.ts';
import { remoteSettingsOf } from '../flags/cache.ts';
import { NO_PROVENANCE_NOTE, provenanceKeyOf, type ProvenanceFlags } from '../flags/provenance.ts';
import { planFromFlags, type PlanFlags } from '../flags/plan.ts';
import { interruptible, printJson } from './common.ts';

export interface BuildFlags extends PlanFlags, FetchFlags, ProvenanceFlags {
  jobs?: string;
  out: string;
  force?: boolean;
  smoke?: boolean;
  smokeVm?: 'auto' | 'always' | 'never';
  until?: string;
  ccache?: boolean;
  json?: boolean;
}

interface Deferred {
  promise: Promise<StageResult>;
  resolve: (r: StageResult) => void;
  reject: (e: unknown) => void;
  lastUpdate?: string;
  onUpdate?: (t: string) => void;
}

function deferred(): Deferred {
  let resolve!: (r: StageResult) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<StageResult>((a, b) => {
    resolve = a;
    reject = b;
  });
  promise.catch(() => undefined); // observed by the task; avoid unhandled rejections
  return { promise, resolve, reject };
}

const WAITING = 'waiting for its inputs or a free slot';
const GROUPED = new Set(['fetch', 'extract', 'patch', 'library']);

/** "1m05s" */
export function clock(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** A running stage's line: elapsed against last time's duration, and its log's last line. */
export function progressText(p: Progress): string {
  const eta = p.expected ? ` / ~${clock(p.expected)}${p.elapsed > p.expected ? ' (slower than last time)' : ''}` : '';
  return `${clock(p.elapsed)}${eta}${p.lastLine ? ` · ${p.lastLine}` : ''}`;
}

export function stageTitle(plan: BuildPlan, id: string): string {
  const st = plan.stages.find((s) => s.id === id)!;
  const c = st.component ? plan.components.find((x) => x.name === st.component) : undefined;
  return KINDS[st.kind].title.replace('{c}', st.variant ?? (c ? c.displayName : ''));
}

/**
 * A listr2 view of the plan's stage graph, fed by runner events. Generated from the plan: each
 * component's source and library stages in a group of their own (the groups run side by side),
 * then every other stage in plan order.
 */
export function buildView(plan: BuildPlan, opts: { onRefused?: (line: string) => void } = {}): { tasks: ListrTask[]; events: BuildEvents; settle: () => void } {
  const d = new Map(plan.stages.map((s) => [s.id, deferred()]));
  const title = (id: string) => stageTitle(plan, id);
  const leaf = (id: string): ListrTask => ({
    title: title(id),
    task: async (_ctx, task) => {
      const x = d.get(id)!;
      x.onUpdate = (t) => (task.output = t);
      if (!x.lastUpdate) x.lastUpdate = WAITING;
      if (x.lastUpdate) task.output = x.lastUpdate;
      const r = await x.promise;
      if (r.status === 'skipped') task.skip(`${title(id)}: ${r.detail ?? 'skipped'}`);
      else task.title = `${title(id)} [${r.status}${r.status === 'built' ? ` ${clock(r.seconds)}` : ''}]`;
    },
  });
  const grouped = plan.stages.filter((s) => s.component && GROUPED.has(s.kind));
  const tasks: ListrTask[] = [
    {
      title: 'sources and libraries',
      task: (_ctx, task) =>
        task.newListr(
          plan.components.map((c) => ({
            title: `${c.displayName} ${c.version}`,
            task: (_c, t) => t.newListr(grouped.filter((s) => s.component === c.name).map((s) => leaf(s.id)), { concurrent: false }),
          })),
          { concurrent: true, exitOnError: true },
        ),
    },
    ...plan.stages.filter((s) => !grouped.includes(s)).map((s) => leaf(s.id)),
  ];
  const push = (id: string, text: string) => {
    const x = d.get(id);
    if (!x) return;
    x.lastUpdate = text;
    x.onUpdate?.(text);
  };
  const events: BuildEvents = {
    update: push,
    progress: (id, p) => push(id, progressText(p)),
    start: (id) => {
      const x = d.get(id);
      if (x?.lastUpdate === WAITING) push(id, '');
    },
    end: (id, r) => d.get(id)?.resolve(r),
    fail: (id, e) => d.get(id)?.reject(e),
    // shown on the stage while it is rebuilt, and reported by the command (also when the rebuild fails)
    refused: (id, line) => {
      push(id, line);
      opts.onRefused?.(line);
    },
  };
  const settle = () => {
    for (const [id, x] of d) x.resolve({ id, status: 'skipped', seconds: 0, detail: 'not reached' });
  };
  return { tasks, events, settle };
}

/** "20:44:11" (UTC), the stamp of a plain line: the time of its event. */
export const stamp = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

export interface PlainOptions {
  /** a stage id's title, e.g. "configure nginx-debug" */
  title: (id: string) => string;
  /** writes one finished line (default: stderr) */
  write?: (line: string) => void;
  /** the clock (tests) */
  now?: () => number;
  /** a running stage's progress line at most this often (default 30 s) */
  everyMs?: number;
  /** a stage's own status lines (download progress, build steps) at most this often (default 1 s) */
  updateMs?: number;
}

/**
 * Plain progress (CI, pipes): one line per event, written when it happens and stamped with its
 * time, whatever else runs beside it. A stage that runs gets "<title>: started" and
 * "<title> [built 1m05s]" (its real duration); a restored one "<title> [cached]"; one not run
 * "<title>: skipped (why)". While it runs: its progress every `everyMs`, and its own status
 * lines at most every `updateMs` (of a burst, such as download progress, the newest is written
 * when the interval is over, or before the stage's finish line). Every line carries the time it
 * is written, which is the time of its event; nothing waits for another stage.
 */
export function plainReporter(opts: PlainOptions): BuildEvents {
  const write = opts.write ?? ((l: string) => process.stderr.write(`${l}\n`));
  const now = opts.now ?? Date.now;
  const every = opts.everyMs ?? 30_000;
  const updateEvery = opts.updateMs ?? 1000;
  const line = (id: string, text: string, at = now()) => write(`[${stamp(at)}] ${opts.title(id)}${text}`);
  const lastProgress = new Map<string, number>();
  const lastUpdate = new Map<string, number>();
  const held = new Map<string, { text: string; timer: NodeJS.Timeout }>();
  let failed = false;
  const flush = (id: string) => {
    const h = held.get(id);
    if (!h) return;
    clearTimeout(h.timer);
    held.delete(id);
    lastUpdate.set(id, now());
    line(id, `: ${h.text}`);
  };
  return {
    start: (id, info) => {
      // a restored or skipped stage starts and ends at once: its end line says it all
      if (!info.runs) return;
      const at = now();
      lastProgress.set(id, at);
      line(id, ': started', at);
    },
    update: (id, text) => {
      const at = now();
      const since = at - (lastUpdate.get(id) ?? -Infinity);
      if (since < updateEvery) {
        // a burst (download progress): keep only the newest, written when the interval is over
        const h = held.get(id);
        const timer = h?.timer ?? setTimeout(() => flush(id), updateEvery - since);
        timer.unref();
        held.set(id, { text: terminalSafe(text), timer });
        return;
      }
      lastUpdate.set(id, at);
      line(id, `: ${terminalSafe(text)}`, at);
    },
    progress: (id, p) => {
      const at = now();
      if (at - (lastProgress.get(id) ?? 0) < every) return;
      lastProgress.set(id, at);
      flush(id);
      line(id, `: ${progressText(p)}`);
    },
    end: (id, r) => {
      flush(id);
      if (r.status === 'skipped') line(id, `: skipped (${(r.detail ?? 'not needed').replace(/^skipped\s*\((.*)\)$/, '$1')})`);
      else line(id, ` [${r.status}${r.status === 'built' ? ` ${clock(r.seconds)}` : ''}]`);
    },
    fail: (id, e) => {
      flush(id);
      // the first failure aborts the stages running beside it: those are stopped, not failed
      line(id, failed ? ': stopped' : `: failed (${terminalSafe(String((e as Error)?.message ?? e).split('\n')[0]!)})`);
      failed = true;
    },
  };
}

export function summaryJson(s: BuildSummary) {
  return {
    profile: s.profile,
    planHash: s.planHash,
    binary: s.binary,
    /** the twins (nginx-debug): name → binary */
    variants: Object.fromEntries(Object.entries(s.variants).map(([k, v]) => [k, v.binary])),
    artifacts: s.artifacts,
    stages: s.stages.map((x) => ({ id: x.id, status: x.status, seconds: x.seconds, ...(x.detail ? { detail: x.detail } : {}) })),
    ...(s.refused?.length ? { refused: s.refused } : {}),
    seconds: s.seconds,
    ...(s.ccache ? { ccache: s.ccache } : {}),
    ...(s.remote ? { remote: s.remote } : {}),
    // the signed provenance; null when artifacts were written without a key to sign it
    ...(s.artifacts.length ? { provenance: s.provenance ?? null } : {}),
  };
}

export async function run(flags: BuildFlags): Promise<number> {
  const plan = planFromFlags(flags);
  buildTargets(plan, flags.until); // an unknown --until stage: exit 2 with the plan's stage ids, before anything runs
  // --json: nothing on stderr; plain: a line per event as it happens; a TTY: the live tree, whose
  // top level runs side by side like the stages (nginx-debug's compile while nginx installs)
  const live = !flags.json && !plainOutput();
  const remote = remoteSettingsOf(flags);
  const provenanceKey = provenanceKeyOf(flags); // a bad key file: exit 2 before any work
  for (const n of remote?.notes ?? []) process.stderr.write(`${n}\n`);
  // a refused cache entry: one line on stderr (also under --json), at once when no live tree is
  // drawn, else after it, also when its rebuild fails
  const refused: string[] = [];
  const report = () => {
    for (const l of refused.splice(0)) process.stderr.write(`${l}\n`);
  };
  const onRefused = (line: string) => (live ? refused.push(line) : process.stderr.write(`${line}\n`));
  const view = live ? buildView(plan, { onRefused }) : undefined;
  const events: BuildEvents = view?.events ?? { ...(flags.json ? {} : plainReporter({ title: (id) => stageTitle(plan, id) })), refused: (_id, line) => onRefused(line) };
  const rendering = view
    ? new Listr(view.tasks, {
        concurrent: true,
        exitOnError: true,
        renderer: 'default',
        rendererOptions: { collapseSubtasks: false, showSubtasks: true },
        // one interrupt path: interruptible() below, not listr2's own process.exit(127)
        registerSignalListeners: false,
      })
        .run()
        .catch(() => undefined)
    : Promise.resolve();
  const summary = await interruptible('build', (signal) =>
    runBuild(
      plan,
      {
        ...fetchOptionsOf(flags),
        jobs: flags.jobs ? Number(flags.jobs) : undefined,
        out: flags.out,
        force: flags.force,
        smoke: flags.smoke,
        smokeVm: flags.smokeVm,
        until: flags.until,
        ccache: flags.ccache,
        remote,
        provenanceKey: provenanceKey?.privatePem,
        signal,
      },
      events,
    ),
  ).catch(async (e) => {
    view?.settle();
    await rendering;
    report();
    throw e;
  });
  await rendering;
  report();
  if (flags.json) {
    printJson(summaryJson(summary));
  } else {
    const counts = summary.stages.reduce<Record<string, number>>((a, s) => ({ ...a, [s.status]: (a[s.status] ?? 0) + 1 }), {});
    const lines = [
      '',
      `nginx ${server(plan).version} (${plan.profile}) in ${summary.seconds}s: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`,
      // `--until` short of the installs built no binary
      ...(summary.binary ? [`binary:    ${summary.binary}`] : []),
      ...Object.entries(summary.variants).map(([name, v]) => `${`${name}:`.padEnd(10)} ${v.binary}`),
      ...(summary.ccache ? [`ccache:    ${summary.ccache.hits} hits, ${summary.ccache.misses} misses (${(summary.ccache.hitRate * 100).toFixed(0)}% hit rate)`] : []),
      ...summary.artifacts.map((a) => `artifact:  ${displayPath(a)}`),
      ...(summary.artifacts.length && !summary.provenance ? [NO_PROVENANCE_NOTE] : []),
    ];
    process.stderr.write(`${lines.join('\n')}\n`);
  }
  return 0;
}
