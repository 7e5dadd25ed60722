// The build orchestrator: walks the plan's stage graph, restores what the stage cache has,
// runs what it lacks (independent dependency builds in parallel), and reports progress as
// events. It knows nothing about rendering: the build command turns events into a listr2 tree.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import { StageCache } from '../cache/index.ts';
import { ExitCode, ForgeError, StageError } from '../errors.ts';
import { ccacheEnv, readStats, statsDelta } from './ccache.ts';
import { fetchPlanSources } from '../fetch/index.ts';
import type { FetchOptions } from '../fetch/index.ts';
import { component, stage, type BuildPlan, type ComponentName, type PlanComponent } from '../plan.ts';
import { logsDir, stagesDir, workDir, distfilesDir } from '../paths.ts';
import { extractArchive } from '../stages/extract.ts';
import { applyPatches } from '../stages/patch.ts';
import { buildDependency } from '../stages/deps.ts';
import { configure, compile, install, placeDependencies, type NginxWorkspace } from '../stages/nginx.ts';
import { verifyBinary, assertChecks } from '../stages/verify.ts';
import { writeArtifacts } from '../stages/package.ts';
import { smokeStage } from '../stages/smoke.ts';
import type { BuildOptions, BuildSummary, StageResult } from './types.ts';

export type { BuildOptions, BuildSummary, StageResult } from './types.ts';

export interface BuildEvents {
  start?(id: string): void;
  update?(id: string, text: string): void;
  end?(id: string, r: StageResult): void;
  fail?(id: string, e: unknown): void;
}

const DEPS: ComponentName[] = ['openssl', 'pcre2', 'zlib-ng', 'jemalloc'];

/** Prefix map + reproducibility environment shared by every compiler run of a build. */
export function compileEnv(ws: string, epoch: number, ccache: boolean): Record<string, string> {
  const map = `-ffile-prefix-map=${ws}=/usr/src/nginx-forge`;
  const env: Record<string, string> = {
    SOURCE_DATE_EPOCH: String(epoch),
    CFLAGS: `-O2 -g ${map}`,
    LC_ALL: 'C',
    TZ: 'UTC',
    ZERO_AR_DATE: '1',
  };
  return ccache ? { ...env, ...ccacheEnv(ws) } : env;
}

export async function runBuild(plan: BuildPlan, opts: BuildOptions = {}, events: BuildEvents = {}): Promise<BuildSummary> {
  const t0 = Date.now();
  const cache = new StageCache(stagesDir());
  const jobs = opts.jobs ?? os.availableParallelism();
  const controller = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, controller.signal]) : controller.signal;
  setMaxListeners(0, signal); // every running command listens for the abort
  const results = new Map<string, StageResult>();
  const runId = `${plan.profile}-${plan.planHash.slice(0, 12)}`;
  const logDir = path.join(logsDir(), runId);
  mkdirSync(logDir, { recursive: true });
  const logFor = (id: string) => path.join(logDir, `${id.replace(':', '-')}.log`);
  const key = (id: string) => stage(plan, id).key;
  if (opts.ccache) ccacheEnv(workDir()); // fails early, with the install hint, when ccache is missing
  const ccacheBefore = opts.ccache ? await readStats() : undefined;

  const done = (id: string, status: StageResult['status'], started: number, detail?: string) => {
    const r: StageResult = { id, status, seconds: Math.round((Date.now() - started) / 100) / 10, detail };
    results.set(id, r);
    events.end?.(id, r);
    return r;
  };
  /** Run one stage body with start/end/fail events; a failure aborts everything else. */
  async function step<T>(id: string, body: () => Promise<T>): Promise<T> {
    events.start?.(id);
    const started = Date.now();
    try {
      const v = await body();
      if (!results.has(id)) done(id, 'built', started);
      return v;
    } catch (e) {
      controller.abort();
      events.fail?.(id, e);
      throw e;
    }
  }
  const cachedStage = (id: string, detail?: string) => {
    events.start?.(id);
    done(id, 'cached', Date.now(), detail);
  };
  const skipped = (id: string, detail: string) => {
    events.start?.(id);
    done(id, 'skipped', Date.now(), detail);
  };

  if (opts.force) for (const s of plan.stages) cache.remove(s.id, s.key);

  // What must run? Backward from the nginx install entry.
  const installHit = cache.lookup('install:nginx', key('install:nginx'));
  const depHit = Object.fromEntries(DEPS.map((d) => [d, cache.lookup(`build:${d}`, key(`build:${d}`))])) as Record<ComponentName, string | undefined>;
  const needDeps = installHit ? [] : DEPS.filter((d) => !depHit[d]);
  const needSources: ComponentName[] = installHit ? [] : ['nginx', ...needDeps];

  if (needSources.length) await preflight();

  // fetch
  const fetchOpts: FetchOptions & { jobs?: number } = {
    distdir: distfilesDir(opts.distdir),
    mirrors: opts.mirrors,
    offline: opts.offline,
    distro: opts.distro,
    keysDir: path.join(plan.recipesDir, 'keys'),
    signal,
    onLog: (l) => events.update?.('fetch', l),
    onProgress: (e) => events.update?.('fetch', `${e.file} ${(e.received / 1e6).toFixed(1)}${e.total ? `/${(e.total / 1e6).toFixed(1)}` : ''} MB`),
  };
  let sources: Awaited<ReturnType<typeof fetchPlanSources>> | undefined;
  if (needSources.length) {
    sources = await step('fetch', () => fetchPlanSources(plan, fetchOpts));
  } else {
    cachedStage('fetch', 'nothing to fetch: every build stage is cached');
  }

  // scratch trees are per process: two builds of one plan in one state dir never share them;
  // trees left by killed builds (their process is gone) are swept here
  sweepWork();
  const work = path.join(workDir(), `${runId}.${process.pid}`);
  /** extract + patch one component into `parent`; returns its source dir. */
  async function prepareSource(c: PlanComponent, parent: string): Promise<string> {
    const src = await step(`extract:${c.name}`, async () => {
      const chosen = sources!.components[c.name];
      return extractArchive(chosen.path, parent, c.topdir, { signal });
    });
    await step(`patch:${c.name}`, async () => {
      const patches = plan.patches.filter((p) => p.component === c.name);
      const patchSetDirs: Record<string, string> = {};
      for (const s of plan.patchSets.filter((x) => x.component === c.name)) {
        const dir = path.join(parent, '.patchsets', s.name);
        mkdirSync(dir, { recursive: true });
        await extractArchive(sources!.patchSets[s.name]!, dir, s.artifact.topdir, { signal });
        patchSetDirs[s.name] = dir;
      }
      await applyPatches({ srcDir: src, patches, patchSetDirs, log: logFor(`patch:${c.name}`), signal }, c.name);
      if (patches.length) events.update?.(`patch:${c.name}`, `${patches.length} patches applied`);
    });
    return src;
  }

  // SOURCE_DATE_EPOCH: the release time of a component, read from a file of its archive (its
  // first license file; extraction keeps file times). Never a directory's time: a directory's
  // mtime changes when anything is created in it, which made builds differ.
  const epochOf = (c: PlanComponent, src: string) => Math.floor(statSync(path.join(src, c.licenseFiles[0]!)).mtimeMs / 1000);

  async function buildDep(name: ComponentName): Promise<string> {
    const id = `build:${name}`;
    if (depHit[name]) {
      for (const s of [`extract:${name}`, `patch:${name}`]) cachedStage(s, `${id} is cached`);
      cachedStage(id);
      return depHit[name]!;
    }
    const c = component(plan, name);
    const ws = path.join(work, name);
    rmSync(ws, { recursive: true, force: true });
    mkdirSync(ws, { recursive: true });
    const src = await prepareSource(c, ws);
    const { dir } = await step(id, () =>
      cache.produce(id, key(id), async (out) => {
        await buildDependency({
          component: c,
          srcDir: src,
          out,
          jobs,
          env: compileEnv(ws, epochOf(c, src), Boolean(opts.ccache)),
          log: logFor(id),
          signal,
          pcreJit: plan.configureArgs.includes('--with-pcre-jit'),
        });
        copyLicenses(c, src, path.join(out, 'licenses', c.name));
        return { component: c.name, version: c.version };
      }),
    );
    rmSync(ws, { recursive: true, force: true });
    return dir;
  }

  // nginx: configure + compile + install, committed as one cache entry (root/, licenses/)
  let installDir = installHit;
  if (installDir) {
    for (const d of DEPS) {
      // an evicted dependency entry is not rebuilt: nothing needs it while the install is cached
      for (const s of [`extract:${d}`, `patch:${d}`, `build:${d}`]) {
        if (depHit[d]) cachedStage(s);
        else skipped(s, 'not needed: the nginx install is cached');
      }
    }
    for (const s of ['extract:nginx', 'patch:nginx', 'configure:nginx', 'compile:nginx', 'install:nginx']) cachedStage(s);
  } else {
    const ws = path.join(work, 'nginx');
    rmSync(ws, { recursive: true, force: true });
    mkdirSync(ws, { recursive: true });
    const [src, ...depDirs] = await Promise.all([prepareSource(component(plan, 'nginx'), ws), ...DEPS.map(buildDep)]);
    const outputs = Object.fromEntries(DEPS.map((d, i) => [d, depDirs[i]!])) as Record<ComponentName, string>;
    const epoch = epochOf(component(plan, 'nginx'), src);
    const nw: NginxWorkspace = { ws, src, env: compileEnv(ws, epoch, Boolean(opts.ccache)), jobs, log: logFor, signal };
    const produced = await cache.produce('install:nginx', key('install:nginx'), async (out) => {
      await step('configure:nginx', async () => {
        placeDependencies(plan, ws, outputs);
        await configure(plan, nw);
      });
      await step('compile:nginx', () => compile(nw));
      await step('install:nginx', async () => {
        await install(nw, path.join(out, 'root'));
        const lic = path.join(out, 'licenses');
        copyLicenses(component(plan, 'nginx'), src, path.join(lic, 'nginx'));
        for (const d of DEPS) cpSync(path.join(outputs[d], 'licenses', d), path.join(lic, d), { recursive: true });
      });
      return {
        epoch,
        artifacts: Object.fromEntries(
          Object.entries(sources!.components).map(([n, v]) => [n, { file: v.artifact.file, sha256: v.artifact.sha256 }]),
        ),
      };
    });
    installDir = produced.dir;
    rmSync(work, { recursive: true, force: true });
  }

  const meta = JSON.parse(readFileSync(path.join(installDir, 'meta.json'), 'utf8')) as {
    epoch: number;
    artifacts: Record<string, { file: string; sha256: string }>;
  };
  const root = path.join(installDir, 'root');
  const binary = path.join(root, 'usr/sbin/nginx');
  const licensesDir = path.join(installDir, 'licenses');
  const ccache = ccacheBefore ? statsDelta(ccacheBefore, await readStats()) : undefined;
  const summary = (artifacts: string[] = []): BuildSummary => ({
    ccache,
    profile: plan.profile,
    planHash: plan.planHash,
    binary,
    root,
    licensesDir,
    artifacts,
    manifest: artifacts.find((a) => a.endsWith('manifest.json')),
    sbom: artifacts.find((a) => a.endsWith('sbom.cdx.json')),
    stages: plan.stages.map((s) => results.get(s.id) ?? { id: s.id, status: 'skipped' as const, seconds: 0, detail: 'not reached' }),
    seconds: Math.round((Date.now() - t0) / 100) / 10,
  });
  if (opts.until === 'install') return summary();

  // verify (result cached by key: the binary is in a cache entry and cannot change)
  await resultStage(cache, 'verify', key('verify'), step, cachedStage, async () => {
    const checks = await verifyBinary(binary, plan);
    assertChecks(binary, checks);
    return { checks };
  });
  if (opts.until === 'verify') return summary();

  if (opts.smoke === false) {
    skipped('smoke', 'skipped (--no-smoke)');
  } else {
    await resultStage(cache, 'smoke', key('smoke'), step, cachedStage, async () =>
      smokeStage(binary, plan, { vm: opts.smokeVm ?? 'auto', distdir: fetchOpts.distdir, logDir, signal, onLog: (l: string) => events.update?.('smoke', l) }),
    );
  }
  if (opts.until === 'smoke') return summary();

  // package: artifacts are produced into the cache entry, then copied to --out
  const out = path.resolve(opts.out ?? 'dist');
  const pkgHit = cache.lookup('package', key('package'));
  let pkgDir: string;
  if (pkgHit) {
    cachedStage('package');
    pkgDir = pkgHit;
  } else {
    pkgDir = (
      await step('package', () =>
        cache.produce('package', key('package'), async (tmp) => {
          const files = await writeArtifacts({ plan, root, licensesDir, artifactFiles: meta.artifacts, epoch: meta.epoch, out: path.join(tmp, 'out') });
          return { files: files.map((f) => path.basename(f)) };
        }),
      )
    ).dir;
  }
  const names = (JSON.parse(readFileSync(path.join(pkgDir, 'meta.json'), 'utf8')) as { files: string[] }).files;
  mkdirSync(out, { recursive: true });
  const artifacts = names.map((n) => {
    cpSync(path.join(pkgDir, 'out', n), path.join(out, n));
    return path.join(out, n);
  });
  return summary(artifacts);
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

function copyLicenses(c: PlanComponent, src: string, dest: string): void {
  mkdirSync(dest, { recursive: true });
  for (const f of c.licenseFiles) {
    const from = path.join(src, f);
    if (!existsSync(from)) throw new StageError(c.name, 'install', `license file ${f} is missing from the source tree`, { hint: `fix licenseFiles in recipes/components/${c.name}.json` });
    cpSync(from, path.join(dest, path.basename(f)));
  }
}

/** A stage whose output is a JSON result, cached by key (verify, smoke). */
async function resultStage<T extends Record<string, unknown>>(
  cache: StageCache,
  id: string,
  key: string,
  step: <R>(id: string, body: () => Promise<R>) => Promise<R>,
  cachedStage: (id: string, detail?: string) => void,
  body: () => Promise<T>,
): Promise<T> {
  const hit = cache.lookup(id, key);
  if (hit) {
    cachedStage(id);
    return JSON.parse(readFileSync(path.join(hit, 'result.json'), 'utf8')) as T;
  }
  return step(id, async () => {
    const r = await body();
    await cache.produce(id, key, async (tmp) => {
      writeFileSync(path.join(tmp, 'result.json'), `${JSON.stringify(r, null, 2)}\n`);
    });
    return r;
  });
}
