// A build: the plan's stage graph run by the one runner (./runner.ts) with the real stage
// implementations (./registry.ts). This module sets up what a run needs (state directories, the
// per-process scratch tree, fetch and smoke options, preflight), picks the targets, and turns
// the runner's outputs into a BuildSummary. It knows nothing about rendering: the build command
// turns events into a listr2 tree.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StageCache } from '../cache/index.ts';
import { ExitCode, ForgeError, UsageError } from '../errors.ts';
import { markInUse } from '../lock.ts';
import { publishArtifacts, SUMS, updateSha256Sums } from '../outdir.ts';
import { writeProvenance } from '../provenance.ts';
import { sweepTempDirs } from '../tmpdirs.ts';
import { distfilesDir, logsDir, stagesDir, stateDir, workDir } from '../paths.ts';
import { serverInstall, stageId, type BuildPlan, type StageKind } from '../plan.ts';
import { ccacheEnv, readStats, statsDelta } from './ccache.ts';
import { firstBuildEstimates } from './estimate.ts';
import { KINDS } from '../kinds.ts';
import { binariesOf, binaryIn, implementations } from './registry.ts';
import { runGraph, Timings, type RunnerEvents } from './runner.ts';
import { JobServer, MemoryTokens, type Tokens } from './tokens.ts';
import type { BuildOptions, BuildSummary } from './types.ts';

export type { BuildOptions, BuildSummary, StageResult } from './types.ts';
export type BuildEvents = RunnerEvents;
export { compileEnv } from './env.ts';

/** Kinds that compile: running any of them needs the build tools (preflight). */
const COMPILING = new Set<StageKind>(['library', 'configure', 'compile']);

/** The install stages of every binary: nginx's, then its twins' (nginx-debug). */
export const installTargets = (plan: BuildPlan): string[] => binariesOf(plan).map((b) => b.install);

/** The stages a build wants by default: the installs (the binaries) and every stage nothing depends on. */
export function defaultTargets(plan: BuildPlan): string[] {
  const used = new Set(plan.stages.flatMap((s) => s.deps));
  return [...installTargets(plan), ...plan.stages.filter((s) => !used.has(s.id)).map((s) => s.id)];
}

/**
 * What a build wants: `until` alone (`build --until <stage>`: that stage and what it needs, nothing
 * else: `library:pcre2` builds no OpenSSL and no nginx), else the default targets. An id the plan
 * does not have is a usage error (exit 2) that lists the plan's stage ids.
 */
export function buildTargets(plan: BuildPlan, until?: string): string[] {
  if (until === undefined) return defaultTargets(plan);
  if (!plan.stages.some((s) => s.id === until)) {
    throw new UsageError(`--until ${until}: the plan of profile ${plan.profile} has no such stage`, `stage ids: ${plan.stages.map((s) => s.id).join(', ')} (\`nginx-forge plan --profile ${plan.profile} --graph\` draws them)`);
  }
  return [until];
}

/** The targets and every stage they depend on, transitively, in plan order (what runs when nothing is cached). Pure. */
export function stageClosure(plan: BuildPlan, targets: string[]): string[] {
  const byId = new Map(plan.stages.map((s) => [s.id, s]));
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    const st = byId.get(id);
    if (!st) throw new Error(`the plan has no stage ${id}`);
    seen.add(id);
    st.deps.forEach(visit);
  };
  targets.forEach(visit);
  return plan.stages.filter((s) => seen.has(s.id)).map((s) => s.id);
}

export async function runBuild(plan: BuildPlan, opts: BuildOptions = {}, events: BuildEvents = {}): Promise<BuildSummary> {
  const t0 = Date.now();
  const cache = new StageCache(stagesDir());
  const jobs = opts.jobs ?? os.availableParallelism();
  const runId = `${plan.profile}-${plan.planHash.slice(0, 12)}`;
  const logDir = path.join(logsDir(), runId);
  mkdirSync(logDir, { recursive: true });
  // gc must not remove the logs this build writes (their directory's mtime does not change);
  // kept until the process exits: `package` writes its logs there after the build
  markInUse(logDir, `build ${runId}`);
  if (opts.ccache) ccacheEnv(workDir()); // fails early, with the install hint, when ccache is missing
  const ccacheBefore = opts.ccache ? await readStats() : undefined;
  const installId = serverInstall(plan);

  // temp trees under $TMPDIR of commands that did not live to remove them (kill -9, a crash)
  sweepTempDirs();
  // scratch trees are per process: two builds of one plan in one state dir never share them;
  // trees left by killed builds (their process is gone) are swept before this one starts
  const work = path.join(workDir(), `${runId}.${process.pid}`);
  mkdirSync(work, { recursive: true });
  const distdir = distfilesDir(opts.distdir);
  // one pool of job tokens for the whole build, shared with every make (GNU make jobserver);
  // without mkfifo the tokens stay in memory and each make gets -jN -lN
  const jobserver = await JobServer.create(work, jobs).catch(() => undefined);
  const tokens: Tokens = jobserver ?? new MemoryTokens(jobs);
  const impls = implementations({
    plan,
    work,
    jobs,
    jobserver: jobserver && { fd: jobserver.fd, makeflags: jobserver.makeflags },
    ccache: Boolean(opts.ccache),
    fetch: { distdir, mirrors: opts.mirrors, offline: opts.offline, distro: opts.distro, keysDir: path.join(plan.recipesDir, 'keys') },
    // the smoke test's HTTP/3 client (the pinned nginx-tests) comes from the store, else as the build fetches
    smoke: { vm: opts.smokeVm ?? 'auto', distdir, logDir, http3Fetch: { distdir, mirrors: opts.mirrors, offline: opts.offline, distro: opts.distro } },
  });
  // `until` is that stage's closure alone (package: artifacts, bench: install:nginx); the summary
  // names only the binaries that were built or restored
  const targets = [...(opts.until && opts.withInstalls ? installTargets(plan) : []), ...buildTargets(plan, opts.until)];
  const estimates = firstBuildEstimates(plan);
  const skip: Record<string, string> = opts.smoke === false ? { [stageId('smoke')]: 'skipped (--no-smoke)' } : {};
  const refused: string[] = [];
  const reported: BuildEvents = {
    ...events,
    refused(id, line) {
      refused.push(line);
      events.refused?.(id, line);
    },
  };
  let result: Awaited<ReturnType<typeof runGraph>>;
  // loaded only when asked for (the OCI client and the sigstore verifier are not small)
  const remote = opts.remote ? (await import('../remote/index.ts')).remoteCacheOf(opts.remote, { planHash: plan.planHash }, opts.signal) : undefined;
  try {
    result = await runGraph(
      plan.stages,
      (k) => KINDS[k].cache,
      (k) => impls[k](),
      cache,
      {
        targets,
        skip,
        force: opts.force,
        slots: jobs,
        tokens,
        tokenFree: (k) => !KINDS[k].job,
        // artifacts are copied out of their entry on every build: their bytes are always re-hashed
        verifyContent: (k) => Boolean(opts.verifyContent) || k === 'artifacts',
        signal: opts.signal,
        logFor: (id) => path.join(logDir, `${id.replace(':', '-')}.log`),
        timings: new Timings(path.join(stateDir(), 'timings.json')),
        estimate: (id) => estimates.get(id),
        remote,
        async beforeRun(ids) {
          if (ids.some((id) => COMPILING.has(plan.stages.find((s) => s.id === id)!.kind))) await preflight();
          sweepWork();
        },
      },
      reported,
    );
  } finally {
    await remote?.close();
    await tokens.close();
    rmSync(work, { recursive: true, force: true });
  }
  const { results, outputs } = result;
  const installDir = outputs.get(installId)?.dir;
  const root = installDir ? path.join(installDir, 'root') : '';
  const ccache = ccacheBefore ? statsDelta(ccacheBefore, await readStats()) : undefined;
  let artifacts: string[] = [];
  let provenance: string | undefined;
  const art = outputs.get(stageId('artifacts'));
  if (art?.dir) {
    // merged into --out: files other commands wrote there (packages) keep their SHA256SUMS lines
    const out = path.resolve(opts.out ?? 'dist');
    artifacts = publishArtifacts(path.join(art.dir, 'out'), (art.meta as { files: string[] }).files, out);
    if (opts.provenanceKey) {
      // written on every build, never cached: the bytes in --out are what it names
      const files = artifacts.filter((a) => path.basename(a) !== SUMS);
      provenance = writeProvenance({ out, plan, output: 'artifacts', files, manifest: files.find((a) => a.endsWith('manifest.json')), privatePem: opts.provenanceKey });
      artifacts = [...files, provenance, updateSha256Sums(out, [provenance])];
    }
  }
  return {
    ccache,
    profile: plan.profile,
    planHash: plan.planHash,
    binary: root ? binaryIn(root, plan) : '',
    root,
    variants: Object.fromEntries(
      binariesOf(plan).flatMap(({ install, variant }) => {
        const dir = outputs.get(install)?.dir;
        return variant && dir ? [[variant.name, { binary: binaryIn(path.join(dir, 'root'), plan, variant), root: path.join(dir, 'root') }]] : [];
      }),
    ),
    licensesDir: installDir ? path.join(installDir, 'licenses') : '',
    artifacts,
    manifest: artifacts.find((a) => a.endsWith('manifest.json')),
    sbom: artifacts.find((a) => a.endsWith('sbom.cdx.json')),
    ...(provenance ? { provenance } : {}),
    vex: artifacts.find((a) => a.endsWith('vex.openvex.json')),
    stages: plan.stages.map((s) => results.get(s.id) ?? { id: s.id, status: 'skipped' as const, seconds: 0, detail: 'not reached' }),
    refused,
    ...(remote ? { remote: remote.stats } : {}),
    seconds: Math.round((Date.now() - t0) / 100) / 10,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sweepWork(): void {
  const dir = workDir();
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) {
    const pid = Number(/\.(\d+)$/.exec(f)?.[1]);
    if (!pid || (pid !== process.pid && !alive(pid))) rmSync(path.join(dir, f), { recursive: true, force: true });
  }
}

/** Before compiling anything: every build tool present, or one error naming all that are missing. */
async function preflight(): Promise<void> {
  const { doctor } = await import('../doctor.ts');
  const r = await doctor();
  if (r.missing.build.length === 0) return;
  const family = r.distro.family;
  const install = (family && r.install[family]) || Object.values(r.install).join('\n    or: ');
  throw new ForgeError(`cannot build: missing ${r.missing.build.join(', ')}`, {
    exitCode: ExitCode.missingTool,
    hint: `install them: ${install}  (\`nginx-forge doctor\` shows every check)`,
  });
}
