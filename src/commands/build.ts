// `nginx-forge build`: runs the orchestrator and renders its events as a listr2 task tree
// (live on a TTY; plain timestamped lines when not a TTY or under CI; silent with --json).
import { Listr, PRESET_TIMESTAMP, type ListrTask } from 'listr2';
import { runBuild, type BuildEvents, type BuildSummary, type StageResult } from '../pipeline/index.ts';
import { KINDS } from '../kinds.ts';
import type { Progress } from '../pipeline/runner.ts';
import { server, type BuildPlan } from '../plan.ts';
import { UsageError } from '../errors.ts';
import { plainOutput } from '../paths.ts';
import { displayPath } from '../recipes/load.ts';
import { fetchOptionsOf, type FetchFlags } from '../flags/fetch.ts';
import { planFromFlags, type PlanFlags } from '../flags/plan.ts';
import { interruptible, printJson } from './common.ts';

export interface BuildFlags extends PlanFlags, FetchFlags {
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
export function buildView(plan: BuildPlan, opts: { plain?: boolean; plainEveryMs?: number } = {}): { tasks: ListrTask[]; events: BuildEvents; settle: () => void } {
  const d = new Map(plan.stages.map((s) => [s.id, deferred()]));
  const title = (id: string) => stageTitle(plan, id);
  const leaf = (id: string): ListrTask => ({
    title: title(id),
    task: async (_ctx, task) => {
      const x = d.get(id)!;
      x.onUpdate = (t) => (task.output = t);
      if (!x.lastUpdate && !opts.plain) x.lastUpdate = WAITING;
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
  const lastPrinted = new Map<string, number>();
  const every = opts.plainEveryMs ?? 30_000;
  const push = (id: string, text: string) => {
    const x = d.get(id);
    if (!x) return;
    x.lastUpdate = text;
    x.onUpdate?.(text);
  };
  const events: BuildEvents = {
    update: push,
    progress: (id, p) => {
      // plain output (CI, pipes) gets a line per running stage at a steady interval, not every second
      if (opts.plain) {
        const now = Date.now();
        if (now - (lastPrinted.get(id) ?? 0) < every) return;
        lastPrinted.set(id, now);
      }
      push(id, opts.plain ? `${title(id)}: ${progressText(p)}` : progressText(p));
    },
    start: (id) => {
      if (opts.plain) lastPrinted.set(id, Date.now());
      const x = d.get(id);
      if (x?.lastUpdate === WAITING) push(id, '');
    },
    end: (id, r) => d.get(id)?.resolve(r),
    fail: (id, e) => d.get(id)?.reject(e),
  };
  const settle = () => {
    for (const [id, x] of d) x.resolve({ id, status: 'skipped', seconds: 0, detail: 'not reached' });
  };
  return { tasks, events, settle };
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
    seconds: s.seconds,
    ...(s.ccache ? { ccache: s.ccache } : {}),
  };
}

export async function run(flags: BuildFlags): Promise<number> {
  const plan = planFromFlags(flags);
  if (flags.until && !plan.stages.some((s) => s.id === flags.until)) {
    throw new UsageError(`--until ${flags.until}: the plan has no such stage`, `stages of profile ${plan.profile}: ${plan.stages.map((s) => s.id).join(', ')}`);
  }
  const view = buildView(plan, { plain: plainOutput() });
  const listr = new Listr(view.tasks, {
    concurrent: false,
    exitOnError: true,
    renderer: 'default',
    rendererOptions: { collapseSubtasks: false, showSubtasks: true },
    fallbackRenderer: 'simple',
    fallbackRendererCondition: plainOutput(),
    fallbackRendererOptions: { timestamp: PRESET_TIMESTAMP },
    silentRendererCondition: Boolean(flags.json),
    // one interrupt path: interruptible() below, not listr2's own process.exit(127)
    registerSignalListeners: false,
  });
  const rendering = listr.run().catch(() => undefined);
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
        signal,
      },
      view.events,
    ),
  ).catch(async (e) => {
    view.settle();
    await rendering;
    throw e;
  });
  await rendering;
  if (flags.json) {
    printJson(summaryJson(summary));
  } else {
    const counts = summary.stages.reduce<Record<string, number>>((a, s) => ({ ...a, [s.status]: (a[s.status] ?? 0) + 1 }), {});
    const lines = [
      '',
      `nginx ${server(plan).version} (${plan.profile}) in ${summary.seconds}s: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`,
      `binary:    ${summary.binary}`,
      ...Object.entries(summary.variants).map(([name, v]) => `${`${name}:`.padEnd(10)} ${v.binary}`),
      ...(summary.ccache ? [`ccache:    ${summary.ccache.hits} hits, ${summary.ccache.misses} misses (${(summary.ccache.hitRate * 100).toFixed(0)}% hit rate)`] : []),
      ...summary.artifacts.map((a) => `artifact:  ${displayPath(a)}`),
    ];
    process.stderr.write(`${lines.join('\n')}\n`);
  }
  return 0;
}
