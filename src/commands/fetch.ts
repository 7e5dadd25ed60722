// `nginx-forge fetch`: download and verify every source of a profile into the distfiles store.
// The work is done by fetch/ (no UI there); this command only shows it with listr2: one task
// per file, progress in the title on a TTY, plain timestamped lines otherwise (CI, pipes).
import { ExitCode, UsageError } from '../errors.ts';
import { OfflineMissingError, storeEntriesOf, type FetchOptions, type FetchResult } from '../fetch/index.ts';
import { missingFromStore, planFetchItems } from '../fetch/plan.ts';
import { combineErrors, pool } from '../fetch/plan.ts';
import { plainOutput } from '../paths.ts';
import path from 'node:path';
import { fetchOptionsOf, type FetchFlags } from '../flags/fetch.ts';
import { planFromFlags, type PlanFlags } from '../flags/plan.ts';
import { interruptible } from './common.ts';
import { MAX_FETCH_JOBS } from './validate.ts';

export { fetchPlanSources, type PlanSources } from '../fetch/plan.ts';

export interface FetchCommandFlags extends PlanFlags, FetchFlags {
  jobs?: string | number;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** Interval of the plain-output progress lines (NGINX_FORGE_PROGRESS_MS changes it, e.g. for tests). */
const PROGRESS_MS = Math.max(100, Number(process.env.NGINX_FORGE_PROGRESS_MS) || 10_000);

function parseJobs(j: string | number | undefined): number {
  if (j === undefined) return 4;
  const n = typeof j === 'number' ? j : Number(j);
  if (!Number.isInteger(n) || n < 1 || n > MAX_FETCH_JOBS) throw new UsageError(`--jobs ${j}: expected a whole number from 1 to ${MAX_FETCH_JOBS}`);
  return n;
}

export async function run(flags: FetchCommandFlags): Promise<number> {
  const plan = planFromFlags(flags, false);
  const jobs = parseJobs(flags.jobs);
  return interruptible('fetch', (signal) => fetchAll(plan, flags, jobs, signal));
}

async function fetchAll(plan: ReturnType<typeof planFromFlags>, flags: FetchCommandFlags, jobs: number, signal: AbortSignal): Promise<number> {
  const base: FetchOptions = {
    ...fetchOptionsOf(flags),
    keysDir: path.join(plan.recipesDir, 'keys'),
    signal,
  };
  const distdir = base.distdir;
  const items = planFetchItems(plan);
  {
    if (base.offline) {
      const missing = await missingFromStore(items, distdir);
      if (missing.length) throw new OfflineMissingError(missing, distdir);
    }
    const results: FetchResult[] = [];
    const errors: unknown[] = [];
    const plain = plainOutput();
    const started = Date.now();
    const { Listr, ListrLogger, PRESET_TIMESTAMP, ProcessOutput } = await import('listr2');
    // progress goes to stderr; stdout carries only the summary (scripts can capture it)
    const processOutput = new ProcessOutput(process.stderr, process.stderr);
    const logger = () => new ListrLogger({ useIcons: true, processOutput });
    const list = new Listr(
      items.map((it) => ({
        title: it.label,
        task: async (_ctx: unknown, task: { title: string; output: string }) => {
          let lastTitle = 0;
          // plain output (CI, logs): one progress line per file at a steady interval, also
          // while no byte arrives (a stalled or dripping source is visible in the log)
          let last: { received: number; total?: number; source: string; at: number } | undefined;
          let prevReceived = 0;
          const started = Date.now();
          const ticker = plain
            ? setInterval(() => {
                const now = Date.now();
                if (!last) {
                  task.output = `${it.label}: waiting for a source (${((now - started) / 1000).toFixed(0)} s)`;
                  return;
                }
                const rate = ((last.received - prevReceived) * 1000) / PROGRESS_MS;
                prevReceived = last.received;
                const pct = last.total ? ` (${Math.floor((last.received / last.total) * 100)}%)` : '';
                task.output = `${it.label}: ${formatBytes(last.received)}${last.total ? ` / ${formatBytes(last.total)}` : ''}${pct}, ${formatBytes(Math.round(rate))}/s from ${last.source}`;
              }, PROGRESS_MS)
            : undefined;
          ticker?.unref();
          const opts: FetchOptions = {
            ...base,
            onLog: (line) => {
              task.output = line;
            },
            onProgress: (e) => {
              if (plain) {
                last = { received: e.received, total: e.total, source: e.source, at: Date.now() };
                return;
              }
              const now = Date.now();
              if (now - lastTitle < 200 && e.received !== e.total) return;
              lastTitle = now;
              task.title = `${e.file}  ${formatBytes(e.received)}${e.total ? ` / ${formatBytes(e.total)}` : ''}`;
            },
            onResult: (r) => {
              results.push(r);
            },
          };
          try {
            const r = await it.run(opts);
            const mine = results.filter((x) => x.sha256 === r.artifact.sha256);
            const stored = mine.some((x) => x.status === 'stored');
            task.title = `${r.artifact.file}: ${stored ? 'stored' : 'already present'}, ${formatBytes(mine[0]?.size ?? 0)}, verified`;
          } catch (e) {
            errors.push(e);
            throw new Error(`${it.label}: ${String((e as Error).message).split('\n')[0]}`);
          } finally {
            if (ticker) clearInterval(ticker);
          }
        },
      })),
      {
        concurrent: jobs,
        exitOnError: false,
        registerSignalListeners: false,
        // rendering goes to stderr: its TTY-ness decides, not stdout's
        forceTTY: !plain,
        renderer: 'default',
        rendererOptions: { collapseErrors: false, logger: logger() },
        fallbackRenderer: 'simple',
        fallbackRendererCondition: plain,
        fallbackRendererOptions: { timestamp: PRESET_TIMESTAMP, logger: logger() },
      } as ConstructorParameters<typeof Listr>[1],
    );
    await list.run();
    if (signal.aborted) throw signal.reason; // interruptible() reports it (exit 130)
    if (errors.length) throw combineErrors(errors, distdir);
    // one line per file, in plan order (artifact, then its signature)
    const order = items.flatMap((it) => it.alternatives.flatMap((a) => storeEntriesOf(a).map((e) => e.sha256)));
    const sorted = [...results].sort((x, y) => order.indexOf(x.sha256) - order.indexOf(y.sha256));
    const seen = new Set<string>();
    const lines: string[] = [];
    for (const r of sorted) {
      if (seen.has(r.sha256)) continue;
      seen.add(r.sha256);
      lines.push(`${(r.status === 'stored' ? 'stored' : 'present').padEnd(8)} ${r.file.padEnd(42)} ${formatBytes(r.size).padStart(10)}  sha256 ${r.sha256}`);
    }
    const transferred = results.reduce((n, r) => n + r.transferred, 0);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    lines.push(`all ${seen.size} files verified in ${distdir} (${formatBytes(transferred)} downloaded, ${secs} s)`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return ExitCode.ok;
  }
}


