// Fetch every source a BuildPlan needs: one archive per component (any of its equivalent
// artifacts) and every patch-set archive. No UI here: callers show progress through the
// FetchOptions callbacks (the fetch command wraps this in listr2, the build command in its own tree).
import { FetchError, ForgeError, IoError, MissingToolError } from '../errors.ts';
import type { BuildPlan, ComponentName } from '../plan.ts';
import type { Artifact } from '../recipes/schema.ts';
import path from 'node:path';
import { fetchArtifact, fetchOneOf, OfflineMissingError, SourcesExhaustedError, storeEntriesOf, storeEntriesPresent, type FetchOptions } from './index.ts';
import { checkStore } from './store.ts';

export interface PlanFetchItem {
  /** "component:<name>" or "patchset:<name>" */
  id: string;
  /** What to show: the preferred file name. */
  label: string;
  alternatives: Artifact[];
  run(opts: FetchOptions): Promise<{ artifact: Artifact; path: string }>;
}

export interface PlanSources {
  components: Record<ComponentName, { artifact: Artifact; path: string }>;
  patchSets: Record<string, string>;
}

/** The downloads a plan needs, in plan order. */
export function planFetchItems(plan: BuildPlan): PlanFetchItem[] {
  const items: PlanFetchItem[] = plan.components.map((c) => ({
    id: `component:${c.name}`,
    label: c.artifacts[0]!.file,
    alternatives: c.artifacts,
    run: (opts) => fetchOneOf(c.artifacts, opts),
  }));
  for (const ps of plan.patchSets) {
    items.push({
      id: `patchset:${ps.name}`,
      label: ps.artifact.file,
      alternatives: [ps.artifact],
      run: async (opts) => ({ artifact: ps.artifact, path: await fetchArtifact(ps.artifact, opts) }),
    });
  }
  return items;
}

/** What --offline would miss: every item with no complete store entry (artifact + signature); a
 *  store file that exists but fails its check is reported as damaged, not as absent. */
export async function missingFromStore(items: PlanFetchItem[], distdir: string): Promise<OfflineMissingError['missing']> {
  const missing: OfflineMissingError['missing'] = [];
  for (const it of items) {
    let ok = false;
    for (const a of it.alternatives) if (await storeEntriesPresent(a, distdir)) ok = true;
    if (ok) continue;
    if (it.alternatives.length > 1) {
      let damaged: { path: string; actual: string; expected: string } | undefined;
      for (const a of it.alternatives) {
        const c = await checkStore(distdir, a);
        if (c.state === 'corrupt') damaged ??= { path: c.path, actual: c.actual, expected: a.sha256 };
      }
      missing.push({ file: it.label, sha256: it.alternatives[0]!.sha256, alternatives: it.alternatives, ...(damaged ? { damaged } : {}) });
      continue;
    }
    for (const e of storeEntriesOf(it.alternatives[0]!)) {
      const c = await checkStore(distdir, e);
      if (c.state === 'absent') missing.push({ file: e.file, sha256: e.sha256 });
      else if (c.state === 'corrupt') missing.push({ file: e.file, sha256: e.sha256, damaged: { path: c.path, actual: c.actual } });
    }
  }
  return missing;
}

/** Run `fn` over `items`, at most `jobs` at a time; every item runs even when some fail. */
export async function pool<T, R>(items: T[], jobs: number, fn: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i]!, i) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  return results;
}

/** One error for several failed items (or the single error itself). */
export function combineErrors(errors: unknown[], distdir?: string): unknown {
  if (errors.length === 1) return errors[0];
  const forge = errors.filter((e): e is ForgeError => e instanceof ForgeError);
  // an abort or an internal error wins; so does a missing tool (it is the one thing to fix)
  if (forge.length !== errors.length) return errors.find((e) => !(e instanceof ForgeError));
  const tool = forge.find((e) => e instanceof MissingToolError);
  if (tool) return tool;
  // a full (or read-only) store fails every file the same way: that one thing to fix
  const io = forge.find((e) => e instanceof IoError);
  if (io) return io;
  const downloads = forge.every((e) => e instanceof SourcesExhaustedError || e.cause instanceof Array);
  const hint = downloads
    ? `pass --mirror <url> for a mirror that has the files (looked up as <mirror>/<file>), or put each file into the store by hand as ${path.join(distdir ?? '<distdir>', '<sha256>', '<file>')} with the name and sha256 listed above; if a pinned hash or URL is wrong, check the recipe`
    : [...new Set(forge.map((e) => e.hint).filter(Boolean))].join('\n  ');
  return new FetchError(`${errors.length} files could not be fetched:\n\n${forge.map((e) => e.message).join('\n\n')}`, { hint, cause: errors });
}

/** Fetch every source of the plan into the store; returns the store paths. */
export async function fetchPlanSources(plan: BuildPlan, opts: FetchOptions & { jobs?: number }): Promise<PlanSources> {
  const items = planFetchItems(plan);
  if (opts.offline) {
    const missing = await missingFromStore(items, opts.distdir);
    if (missing.length) throw new OfflineMissingError(missing, opts.distdir);
  }
  const settled = await pool(items, opts.jobs ?? 4, (it) => it.run(opts));
  const errors = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason);
  if (errors.length) throw combineErrors(errors, opts.distdir);
  const out: PlanSources = { components: {} as PlanSources['components'], patchSets: {} };
  items.forEach((it, i) => {
    const v = (settled[i] as PromiseFulfilledResult<{ artifact: Artifact; path: string }>).value;
    const [kind, name] = it.id.split(/:(.*)/s) as [string, string];
    if (kind === 'component') out.components[name as ComponentName] = v;
    else out.patchSets[name] = v.path;
  });
  return out;
}
