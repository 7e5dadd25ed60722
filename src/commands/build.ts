// `nginx-forge build`: runs the orchestrator and renders its events as a listr2 task tree
// (live on a TTY; plain timestamped lines when not a TTY or under CI; silent with --json).
import { Listr, PRESET_TIMESTAMP, type ListrTask } from 'listr2';
import { runBuild, type BuildEvents, type BuildSummary, type StageResult } from '../build/index.ts';
import type { BuildPlan } from '../plan.ts';
import { plainOutput } from '../paths.ts';
import { displayPath } from '../recipes/load.ts';
import { interruptible, planFromFlags, printJson, type PlanFlags } from './common.ts';

export interface BuildFlags extends PlanFlags {
  distdir?: string;
  mirror?: string[];
  offline?: boolean;
  distro?: boolean;
  jobs?: string;
  out: string;
  force?: boolean;
  smoke?: boolean;
  smokeVm?: 'auto' | 'always' | 'never';
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

const DEP_ORDER = ['nginx', 'openssl', 'pcre2', 'zlib-ng', 'jemalloc'];
const TITLES: Record<string, string> = {
  fetch: 'fetch and verify sources',
  verify: 'verify the binary (nginx -V, symbols, jemalloc, nginx -t)',
  smoke: 'smoke test: kTLS + SSL_sendfile, PCRE2 JIT, zlib-ng, jemalloc',
  package: 'package: tarball, manifest, SBOM, SHA256SUMS',
};

/** A listr2 view of the stage graph, fed by orchestrator events. */
export function buildView(plan: BuildPlan): { tasks: ListrTask[]; events: BuildEvents; settle: () => void } {
  const d = new Map(plan.stages.map((s) => [s.id, deferred()]));
  const title = (id: string) => TITLES[id] ?? id.replace(':', ' ');
  const leaf = (id: string): ListrTask => ({
    title: title(id),
    task: async (_ctx, task) => {
      const x = d.get(id)!;
      x.onUpdate = (t) => (task.output = t);
      if (x.lastUpdate) task.output = x.lastUpdate;
      const r = await x.promise;
      if (r.status === 'skipped') task.skip(`${title(id)}: ${r.detail ?? 'skipped'}`);
      else task.title = `${title(id)} [${r.status}${r.status === 'built' ? ` ${r.seconds}s` : ''}]`;
    },
  });
  const tasks: ListrTask[] = [
    leaf('fetch'),
    {
      title: 'sources and dependencies',
      task: (_ctx, task) =>
        task.newListr(
          DEP_ORDER.map((c) => ({
            title: c,
            task: (_c, t) =>
              t.newListr(
                plan.stages.filter((s) => s.component === c && ['extract', 'patch', 'build'].includes(s.kind)).map((s) => leaf(s.id)),
                { concurrent: false },
              ),
          })),
          { concurrent: true, exitOnError: true },
        ),
    },
    ...['configure:nginx', 'compile:nginx', 'install:nginx', 'verify', 'smoke', 'package'].map(leaf),
  ];
  const events: BuildEvents = {
    update: (id, text) => {
      const x = d.get(id);
      if (!x) return;
      x.lastUpdate = text;
      x.onUpdate?.(text);
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
    artifacts: s.artifacts,
    stages: s.stages.map((x) => ({ id: x.id, status: x.status, seconds: x.seconds, ...(x.detail ? { detail: x.detail } : {}) })),
    seconds: s.seconds,
    ...(s.ccache ? { ccache: s.ccache } : {}),
  };
}

export async function run(flags: BuildFlags): Promise<number> {
  const plan = planFromFlags(flags);
  const view = buildView(plan);
  const listr = new Listr(view.tasks, {
    concurrent: false,
    exitOnError: true,
    registerSignalListeners: false, // its SIGINT handler exits 127; interruptible() handles signals
    renderer: 'default',
    rendererOptions: { collapseSubtasks: false, showSubtasks: true },
    fallbackRenderer: 'simple',
    fallbackRendererCondition: plainOutput(),
    fallbackRendererOptions: { timestamp: PRESET_TIMESTAMP },
    silentRendererCondition: Boolean(flags.json),
  });
  const rendering = listr.run().catch(() => undefined);
  const summary = await interruptible('build', (signal) =>
    runBuild(
      plan,
      {
        distdir: flags.distdir,
        mirrors: flags.mirror,
        offline: flags.offline,
        distro: flags.distro,
        jobs: flags.jobs ? Number(flags.jobs) : undefined,
        out: flags.out,
        force: flags.force,
        smoke: flags.smoke,
        smokeVm: flags.smokeVm,
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
      `nginx ${plan.components[0]!.version} (${plan.profile}) in ${summary.seconds}s: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`,
      `binary:    ${summary.binary}`,
      ...(summary.ccache ? [`ccache:    ${summary.ccache.hits} hits, ${summary.ccache.misses} misses (${(summary.ccache.hitRate * 100).toFixed(0)}% hit rate)`] : []),
      ...summary.artifacts.map((a) => `artifact:  ${displayPath(a)}`),
    ];
    process.stderr.write(`${lines.join('\n')}\n`);
  }
  return 0;
}
