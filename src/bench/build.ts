// bench build: how much the stage cache saves, measured in one run on one machine.
//   cold        every stage runs (empty stage cache; sources come from the verified distfiles store)
//   warm        the same plan again: every stage restored from the cache (a no-op rebuild)
//   nginx-only  a profile variant with one extra nginx module: the dependency builds stay cached,
//               only nginx's extract/patch/configure/compile/install run
//   naive       the way nginx is usually built by hand: the same verified tarballs and patches,
//               zlib-ng and jemalloc built first by their own default build (the recipe's configure
//               arguments without its `trim` switches, the default make target, `make install`),
//               then nginx's own single `make` with in-tree --with-openssl=/--with-pcre= and the
//               same nginx configure arguments (OpenSSL gets the profile's options only, as
//               nginx's make passes them: none of the recipe's trim switches)
// After the warm rebuild, what checking the cache costs, in the same state dir: the whole
// `nginx-forge build --until install:nginx` process with every stage cached (node start, plan,
// every entry checked; 3 runs), and the check of the TLS library's entry (OpenSSL: the largest a
// compile reads) with every byte hashed and by its stamps alone, each as a share of that process.
// After the cache check, "fresh runner, warm registry": a distribution registry (docker-registry)
// on loopback, the warm state dir's entries pushed to it, signed with a key made for the run; then
// an empty state dir builds the same plan from that registry alone (trusting that key): wall
// time to the installed, content-checked binary, against the cold build, with bytes pushed and
// pulled, and whether the binary is byte-identical to the cold build's. Skipped (with a warning)
// when docker-registry is not installed.
// After the naive build (outside its time), nginx's own compile+link alone is measured in the
// naive tree: its objects removed, `make` again (OpenSSL and PCRE2 are up to date there). The
// nginx-only rebuild is compared with it.
// With --target another machine than this one (a cross build, e.g. aarch64-linux-gnu on amd64),
// the bench compares instead: the native cold build of the same profile for this host, then the
// cold cross build, in one run and one state dir (both forced: every stage runs), and the ratio
// cross / native, wall and CPU, whole and per stage. The cache scenarios are the native bench's:
// they are not repeated for the target (results: build-cross.*, the native run's stay).
// The stage cache lives in a temporary NGINX_FORGE_HOME, so the user's cache is neither used nor
// touched; the distfiles store is the user's (read only: nothing is downloaded when it is complete).
import { tempDir } from '../tmpdirs.ts';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ForgeError } from '../errors.ts';
import { run } from '../exec.ts';
import { StageCache } from '../cache/index.ts';
import { fetchOptionsOf, type FetchFlags } from '../flags/fetch.ts';
import { distfilesDir, stagesDir } from '../paths.ts';
import { PROJECT_ROOT } from '../recipes/load.ts';
import { server, serverInstall, stage, stageId, tlsLibrary, type BuildPlan, type ComponentName, type StageKind } from '../plan.ts';
import { copiedOutputs, libraryCommands } from '../recipes/commands.ts';
import type { BuildOptions, BuildSummary, StageResult } from '../pipeline/types.ts';
import { planFromFlags, type PlanFlags } from '../flags/plan.ts';
import { timedCli } from './cli.ts';
import { sha256File } from '../hash.ts';
import { which } from '../which.ts';
import { targetOf } from '../target.ts';
import { CACHEABLE_KINDS } from '../flags/cache.ts';
import { startLocalRegistry } from '../remote/local-registry.ts';
import { generateKeyPair } from '../remote/sign.ts';
import { summarize } from './stats.ts';
import { loadSample, machineInfo, type LoadSample, type MachineInfo } from './machine.ts';

export const BUILD_SCHEMA = 'nginx-forge/bench-build@1';

export type ScenarioId = 'cold' | 'warm' | 'registry' | 'nginx-only' | 'naive' | 'cross';

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** wall-clock seconds, measured around the whole scenario */
  seconds: number;
  /**
   * CPU seconds (user + system) of every process the scenario ran: less sensitive than wall
   * time to other jobs on the machine (undefined where /proc is missing)
   */
  cpuSeconds?: number;
  /** runBuild's per-stage results (forge scenarios) */
  stages?: StageResult[];
  /** stages that ran (status "built") */
  built?: string[];
  /** naive baseline: its steps and their times */
  steps?: { name: string; seconds: number }[];
  binary?: string;
  load: LoadSample;
  notes: string[];
}

export interface BuildBenchResult {
  schema: typeof BUILD_SCHEMA;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  command: string;
  machine: MachineInfo;
  load: { before: LoadSample; after: LoadSample };
  profile: string;
  planHash: string;
  /** the GNU triple the bench's plan builds for (the host's, or a cross build's: see `cross`) */
  target: string;
  jobs: number;
  /** the change that makes the nginx-only variant */
  variantChange: string;
  scenarios: Scenario[];
  /** naive seconds / scenario seconds (how many times faster than the naive build), wall clock */
  speedup: Partial<Record<Exclude<ScenarioId, 'naive'>, number>>;
  /** the same with CPU seconds */
  cpuSpeedup: Partial<Record<Exclude<ScenarioId, 'naive'>, number>>;
  /** nginx's own compile+link alone (objects removed, `make` in the naive tree), wall seconds */
  nginxCompileLink?: number;
  /** nginx-only rebuild seconds / nginxCompileLink: the cost of a rebuild beyond compiling nginx */
  nginxOnlyOverCompileLink?: number;
  /** what checking the stage cache costs (after the warm rebuild, same state dir) */
  cacheCheck?: CacheCheck;
  /** the fresh-runner-warm-registry scenario's traffic and result */
  registry?: RegistryScenario;
  /** --target another machine: the cold cross build against the native cold build */
  cross?: CrossComparison;
  warnings: string[];
}

export interface RegistryScenario {
  /** oci://127.0.0.1:PORT/REPO */
  ref: string;
  /** what the push from the warm state dir sent */
  pushed: number;
  pushedBytes: number;
  /** what the fresh runner took from the registry */
  pulled: number;
  pulledBytes: number;
  /** the push's wall seconds (outside the scenario's time) */
  pushSeconds: number;
  /** cold build seconds / fresh-runner seconds (target: REGISTRY_TARGET) */
  overCold: number;
  /** the fresh runner's binary is byte-identical to the cold build's (undefined: not comparable) */
  sameBinary?: boolean;
}

/** A cold cross build against the native cold build of the same profile, in one run. */
export interface CrossComparison {
  /** the build host's triple (the "cold" scenario) and the target's (the "cross" scenario) */
  host: string;
  target: string;
  /** the native plan's hash ("cold"); the bench's planHash is the cross plan's */
  nativePlanHash: string;
  /** cross seconds / native seconds: how many times longer the cross build takes, wall clock */
  overNative: number;
  /** the same with CPU seconds */
  cpuOverNative?: number;
  /**
   * every stage that ran in both builds: its native and cross wall seconds, cross / native
   * (null when the native stage took under CROSS_RATIO_MIN seconds: a ratio of noise)
   */
  stages: { id: string; native: number; cross: number; ratio: number | null }[];
}

/** A stage's cross / native ratio is given only from this many native seconds up. */
export const CROSS_RATIO_MIN = 0.5;

/** The cross build of `cross` against the native one: whole and stage by stage. */
export function crossComparison(native: Scenario, cross: Scenario, host: string, target: string, nativePlanHash: string): CrossComparison {
  const ratio = (a: number, b: number) => Math.round((a / Math.max(b, 0.001)) * 100) / 100;
  const nativeStages = new Map((native.stages ?? []).filter((s) => s.status === 'built').map((s) => [s.id, s.seconds]));
  const stages = (cross.stages ?? [])
    .filter((s) => s.status === 'built' && nativeStages.has(s.id))
    .map((s) => ({ id: s.id, native: nativeStages.get(s.id)!, cross: s.seconds, ratio: nativeStages.get(s.id)! < CROSS_RATIO_MIN ? null : ratio(s.seconds, nativeStages.get(s.id)!) }));
  return {
    host,
    target,
    nativePlanHash,
    overNative: ratio(cross.seconds, native.seconds),
    ...(native.cpuSeconds !== undefined && cross.cpuSeconds !== undefined ? { cpuOverNative: ratio(cross.cpuSeconds, native.cpuSeconds) } : {}),
    stages,
  };
}

/** The fresh runner from a warm registry is meant to be at least this many times faster than a cold build (issue 22). */
export const REGISTRY_TARGET = 20;

export interface CacheCheck {
  /** `nginx-forge build` with every stage cached, as its own process: wall seconds */
  cachedBuild: {
    command: string;
    samples: number[];
    median: number;
    /** CPU seconds (user + system) of each run: what load on a shared machine disturbs least */
    cpuSamples?: number[];
    cpuMedian?: number;
    compiledCli: boolean;
  };
  /** the TLS library's entry (library:openssl) */
  tlsLibrary: {
    stage: string;
    files: number;
    bytes: number;
    /** verify with every file re-hashed (what a compile that links it gets), seconds */
    contentSeconds: number;
    /** verify trusting unchanged stamps (what a build that does not read it gets), seconds */
    stampSeconds: number;
    /** contentSeconds / cachedBuild.median */
    contentShare: number;
    /** stampSeconds / cachedBuild.median */
    stampShare: number;
    /** bytes each check read and hashed (every byte; 0 when every stamp matched) */
    contentHashed: number;
    stampHashed: number;
  };
}

/** The all-cached build is meant to stay under this (README, issue 21). */
export const CACHED_BUILD_BUDGET = 1;

export interface BenchBuildFlags extends PlanFlags, FetchFlags {}

export interface BenchBuildOptions {
  flags: BenchBuildFlags;
  progress?: (line: string) => void;
  signal?: AbortSignal;
  /** parallel jobs for both the forge and the naive build (default: CPU count) */
  jobs?: number;
  /** override runBuild (tests) */
  runBuild?: (plan: BuildPlan, opts: BuildOptions) => Promise<BuildSummary>;
  /** skip the naive baseline (tests) */
  skipNaive?: boolean;
  /** run the CLI with these arguments, return its wall seconds (tests; default: a child process) */
  runCli?: (args: string[], env: Record<string, string>) => Promise<number>;
  /** skip the fresh-runner-warm-registry scenario (tests) */
  skipRegistry?: boolean;
}

const timedBuildCli = (args: string[], env: Record<string, string>) => timedCli('bench build', args, env);
const median = (xs: number[]) => summarize(xs).median;

/**
 * What the cache check costs, in the current state dir (every stage up to install:nginx cached):
 * the all-cached build as a process, and the TLS library entry's check, content and stamps.
 */
export async function measureCacheCheck(plan: BuildPlan, flags: BenchBuildFlags, distdir: string, out: string, runCli = timedBuildCli, runs = 3): Promise<CacheCheck> {
  const args = [
    'build', '--profile', plan.profile, '--until', serverInstall(plan), '--no-smoke', '--offline', '--json', '--distdir', distdir, '--out', out,
    ...(flags.recipes ? ['--recipes', flags.recipes] : []),
    ...(flags.patches ? ['--patches', flags.patches] : []),
    ...(flags.prefix ? ['--prefix', flags.prefix] : []),
    ...(flags.set ?? []).flatMap((s) => ['--set', s]),
  ];
  const env = { NGINX_FORGE_HOME: process.env.NGINX_FORGE_HOME ?? '' };
  const samples: number[] = [];
  const cpu: (number | undefined)[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = childCpuSeconds();
    samples.push(Math.round((await runCli(args, env)) * 1000) / 1000);
    const c1 = childCpuSeconds();
    cpu.push(c0 === undefined || c1 === undefined ? undefined : Math.round((c1 - c0) * 100) / 100);
  }
  const cpuSamples = cpu.every((x): x is number => x !== undefined) ? cpu : undefined;
  const tls = tlsLibrary(plan);
  if (!tls) throw new ForgeError(`bench build: profile ${plan.profile} has no TLS library to measure the cache check on`);
  const id = stageId('library', tls.name);
  const st = plan.stages.find((s) => s.id === id)!;
  const cache = new StageCache(stagesDir());
  const meta = cache.meta(id, st.key);
  if (!meta) throw new ForgeError(`bench build: ${id} is not in the bench's stage cache after the warm rebuild`);
  const timed = (deep: boolean) => {
    const t0 = performance.now();
    const c = cache.verify(id, st.key, { deep });
    const s = (performance.now() - t0) / 1000;
    if (!c.ok) throw new ForgeError(`bench build: ${id}'s cache entry failed its check: ${c.problem}`);
    return { seconds: Math.round(s * 1e4) / 1e4, hashed: c.hashed };
  };
  const content = timed(true);
  const stamps = timed(false);
  const contentSeconds = content.seconds;
  const stampSeconds = stamps.seconds;
  const m = median(samples);
  const integrity = meta.integrity as { files: number; bytes: number };
  const share = (x: number) => Math.round((x / Math.max(m, 0.001)) * 1000) / 1000;
  return {
    cachedBuild: { command: `nginx-forge ${args.slice(0, 8).join(' ')}`, samples, median: m, ...(cpuSamples ? { cpuSamples, cpuMedian: median(cpuSamples) } : {}), compiledCli: existsSync(path.join(PROJECT_ROOT, 'lib', 'cli.js')) && process.env.NGINX_FORGE_TSX !== '1' },
    tlsLibrary: { stage: id, files: integrity.files, bytes: integrity.bytes, contentSeconds, stampSeconds, contentShare: share(contentSeconds), stampShare: share(stampSeconds), contentHashed: content.hashed, stampHashed: stamps.hashed },
  };
}

/** The kinds of a dependency's own stages: the nginx-only rebuild must restore them all. */
const DEPENDENCY_KINDS = new Set<StageKind>(['fetch', 'extract', 'patch', 'library']);

/** Modules tried, in order, for the nginx-only variant: the first one the profile lacks. */
export const VARIANT_MODULES = ['--with-http_degradation_module', '--without-http_empty_gif_module'];

/**
 * Copy a recipe directory and add one nginx module to a profile: only nginx's configure
 * arguments change, so only nginx's stage keys change.
 */
export function variantRecipes(recipesDir: string, profile: string, dest: string): { dir: string; change: string } {
  cpSync(recipesDir, dest, { recursive: true });
  const file = path.join(dest, 'profiles', `${profile}.json`);
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nginx: { modules: string[] } };
  const add = VARIANT_MODULES.find((m) => !p.nginx.modules.includes(m));
  if (!add) throw new ForgeError(`profile ${profile} already has every variant module (${VARIANT_MODULES.join(', ')})`);
  p.nginx.modules.push(add);
  writeFileSync(file, `${JSON.stringify(p, null, 2)}\n`);
  return { dir: dest, change: `nginx configure: ${add} added` };
}

const now = () => performance.now();

/**
 * CPU seconds used by this process's reaped children and their descendants (cutime + cstime of
 * /proc/self/stat; a child's total includes the children it waited for, as make does).
 */
export function childCpuSeconds(statText?: string): number | undefined {
  let text = statText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/stat', 'utf8');
    } catch {
      return undefined;
    }
  }
  // fields after "(comm)": state is field 3; cutime and cstime are fields 16 and 17
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const cutime = Number(rest[16 - 3]);
  const cstime = Number(rest[17 - 3]);
  if (!Number.isFinite(cutime) || !Number.isFinite(cstime)) return undefined;
  return (cutime + cstime) / CLOCK_TICKS;
}

/** USER_HZ: what /proc reports times in; 100 on every Linux architecture nginx-forge targets */
const CLOCK_TICKS = 100;

/** CPU of this process (runBuild extracts and hashes in-process) plus its children, since a mark. */
function cpuMark(): { own: NodeJS.CpuUsage; children: number | undefined } {
  return { own: process.cpuUsage(), children: childCpuSeconds() };
}

function cpuSince(m: { own: NodeJS.CpuUsage; children: number | undefined }): number | undefined {
  const c1 = childCpuSeconds();
  if (m.children === undefined || c1 === undefined) return undefined;
  const own = process.cpuUsage(m.own);
  return Math.round((c1 - m.children + (own.user + own.system) / 1e6) * 100) / 100;
}
/** seconds since t0, to the millisecond (a warm no-op rebuild takes well under 0.1 s) */
const secs = (t0: number) => Math.round(performance.now() - t0) / 1000;

export async function benchBuild(o: BenchBuildOptions): Promise<BuildBenchResult> {
  const say = o.progress ?? (() => {});
  const warnings: string[] = [];
  const startedAt = new Date().toISOString();
  const t0 = now();
  const before = loadSample();
  const machine = machineInfo(['cc', 'make', 'cmake']);
  const jobs = o.jobs ?? os.availableParallelism();
  const plan = planFromFlags(o.flags);
  // resolved before NGINX_FORGE_HOME points at the scratch home: the user's store is used
  const fetch = fetchOptionsOf(o.flags);
  const distdir = fetch.distdir;
  const runBuild = o.runBuild ?? (await import('../pipeline/index.ts')).runBuild;

  const prevHome = process.env.NGINX_FORGE_HOME;
  const scratch = tempDir('benchbuild');
  const scenarios: Scenario[] = [];
  const buildOpts: BuildOptions = {
    ...fetch,
    jobs,
    out: path.join(scratch, 'out'),
    smoke: false,
    until: serverInstall(plan),
    signal: o.signal,
  };
  let variantChange = '';
  let nginxCompileLinkSecs: number | undefined;
  let cacheCheck: CacheCheck | undefined;
  let registry: RegistryScenario | undefined;
  let cross: CrossComparison | undefined;
  try {
    process.env.NGINX_FORGE_HOME = path.join(scratch, 'home');

    const forge = async (id: ScenarioId, title: string, p: BuildPlan, force: boolean, notes: string[] = []) => {
      say(`${id}: ${title}`);
      const c0 = cpuMark();
      const s0 = now();
      const summary = await runBuild(p, { ...buildOpts, force });
      const seconds = secs(s0);
      const cpuSeconds = cpuSince(c0);
      const built = summary.stages.filter((s) => s.status === 'built').map((s) => s.id);
      say(`${id}: ${seconds} s (CPU ${cpuSeconds ?? '?'} s), ran ${built.length ? built.join(', ') : 'nothing'}`);
      const sc: Scenario = { id, title, seconds, cpuSeconds, stages: summary.stages, built, binary: summary.binary, load: loadSample(), notes };
      scenarios.push(sc);
      return sc;
    };

    if (plan.cross) {
      // the native plan of the same profile and flags, for this host
      const host = targetOf(undefined).triple;
      const native = planFromFlags({ ...o.flags, target: host });
      const cold = await forge('cold', `native cold build for ${host}: every stage runs, sources from the distfiles store`, native, true);
      const x = await forge('cross', `cross cold build for ${plan.target.triple} on ${host}: every stage runs`, plan, true);
      cross = crossComparison(cold, x, host, plan.target.triple, native.planHash);
      say(`cross: ${x.seconds} s against the native ${cold.seconds} s: ${cross.overNative}x the wall time${cross.cpuOverNative === undefined ? '' : `, ${cross.cpuOverNative}x the CPU time`}`);
    } else {
      await forge('cold', 'cold build: empty stage cache, sources from the distfiles store', plan, true);
      const warm = await forge('warm', 'warm rebuild: same plan, nothing changed', plan, false);
      const unexpected = (warm.built ?? []).filter((id) => stage(plan, id).kind !== 'fetch');
      if (unexpected.length) warnings.push(`warm rebuild ran stages it should have restored: ${unexpected.join(', ')}`);

      say('cache check: the all-cached build as a process, and the TLS library entry\'s check');
      cacheCheck = await measureCacheCheck(plan, o.flags, distdir, path.join(scratch, 'out-cached'), o.runCli);
      const cc = cacheCheck;
      say(`cache check: all-cached build ${cc.cachedBuild.median} s; ${cc.tlsLibrary.stage} every byte ${cc.tlsLibrary.contentSeconds} s, by stamps ${cc.tlsLibrary.stampSeconds} s`);
      if (cc.cachedBuild.median > CACHED_BUILD_BUDGET) {
        warnings.push(
          `the all-cached build took ${cc.cachedBuild.median} s (median of ${cc.cachedBuild.samples.length}), over its ${CACHED_BUILD_BUDGET} s budget` +
            `${cc.cachedBuild.cpuMedian !== undefined ? ` (CPU ${cc.cachedBuild.cpuMedian} s; load ${loadSample().loadavg[0]})` : ''}${cc.cachedBuild.compiledCli ? '' : ' (through tsx: no compiled CLI, run `npm run build`)'}`,
        );
      }

      if (!o.skipRegistry) {
        const cold = scenarios.find((x) => x.id === 'cold')!;
        const r = await registryScenario(plan, buildOpts, scratch, runBuild, cold, say, warnings);
        if (r) {
          scenarios.push(r.scenario);
          registry = r.result;
        }
      }

      const variant = variantRecipes(plan.recipesDir, plan.profile, path.join(scratch, 'recipes'));
      variantChange = variant.change;
      const vplan = planFromFlags({ ...o.flags, recipes: variant.dir, patches: plan.patchesDir });
      const depStages = plan.stages.filter((s) => s.kind === 'library');
      const changed = depStages.filter((s) => vplan.stages.find((v) => v.id === s.id)?.key !== s.key).map((s) => s.id);
      if (changed.length) warnings.push(`the variant changed dependency stage keys too: ${changed.join(', ')}`);
      const only = await forge('nginx-only', `nginx-only rebuild: ${variant.change}`, vplan, false, [variant.change]);
      const depsBuilt = (only.built ?? []).filter((id) => {
        const st = stage(vplan, id);
        return DEPENDENCY_KINDS.has(st.kind) && st.component !== server(vplan).name;
      });
      if (depsBuilt.length) warnings.push(`nginx-only rebuild rebuilt dependency stages: ${depsBuilt.join(', ')}`);

      if (!o.skipNaive) {
        say('naive: one shell session, nginx\'s own make with in-tree OpenSSL and PCRE2');
        const c0 = cpuMark();
        const s0 = now();
        const steps = await naiveBuild(plan, distdir, path.join(scratch, 'naive'), jobs, say, o.signal);
        const seconds = secs(s0);
        const cpuSeconds = cpuSince(c0);
        say(`naive: ${seconds} s (CPU ${cpuSeconds ?? '?'} s)`);
        const s1 = now();
        await nginxCompileLink(path.join(scratch, 'naive'), plan, jobs, o.signal);
        nginxCompileLinkSecs = secs(s1);
        say(`nginx's own compile+link alone: ${nginxCompileLinkSecs} s`);
        scenarios.push({
          id: 'naive',
          title: 'naive baseline: tar, patch, zlib-ng and jemalloc by their default builds, then nginx ./configure && make (in-tree OpenSSL, PCRE2)',
          seconds,
          cpuSeconds,
          steps,
          binary: path.join(scratch, 'naive', 'root', 'usr/sbin/nginx'),
          load: loadSample(),
          notes: [
            'same verified tarballs, same patches, same nginx configure arguments, same -j; no cache, every step every time',
            'libraries nginx cannot build in-tree: their default make target and install, without the recipes\' trim switches and before-runs',
          ],
        });
      }
    }
  } finally {
    if (prevHome === undefined) delete process.env.NGINX_FORGE_HOME;
    else process.env.NGINX_FORGE_HOME = prevHome;
    rmSync(scratch, { recursive: true, force: true });
  }

  const naive = scenarios.find((s) => s.id === 'naive');
  const speedup: BuildBenchResult['speedup'] = {};
  const cpuSpeedup: BuildBenchResult['cpuSpeedup'] = {};
  const ratio = (a: number, b: number) => Math.round((a / Math.max(b, 0.001)) * 100) / 100;
  if (naive) {
    for (const s of scenarios) {
      if (s.id === 'naive') continue;
      speedup[s.id] = ratio(naive.seconds, s.seconds);
      if (naive.cpuSeconds !== undefined && s.cpuSeconds !== undefined) cpuSpeedup[s.id] = ratio(naive.cpuSeconds, s.cpuSeconds);
    }
  }
  const after = loadSample();
  const only = scenarios.find((s) => s.id === 'nginx-only');
  return {
    schema: BUILD_SCHEMA,
    startedAt,
    finishedAt: new Date().toISOString(),
    seconds: secs(t0),
    command: `nginx-forge bench build --profile ${plan.profile}${plan.cross ? ` --target ${plan.target.triple}` : ''}`,
    machine,
    load: { before, after },
    profile: plan.profile,
    planHash: plan.planHash,
    target: plan.target.triple,
    jobs,
    variantChange,
    scenarios,
    speedup,
    cpuSpeedup,
    ...(nginxCompileLinkSecs !== undefined && only
      ? { nginxCompileLink: nginxCompileLinkSecs, nginxOnlyOverCompileLink: ratio(only.seconds, nginxCompileLinkSecs) }
      : {}),
    ...(cacheCheck ? { cacheCheck } : {}),
    ...(registry ? { registry } : {}),
    ...(cross ? { cross } : {}),
    warnings,
  };
}

const sameFile = (a: string | undefined, b: string | undefined): boolean | undefined =>
  a && b && existsSync(a) && existsSync(b) ? sha256File(a) === sha256File(b) : undefined;

/**
 * Fresh runner, warm registry: push the current state dir's entries to a registry on loopback
 * (signed with a key made for this run), then build the plan in an empty state dir from that
 * registry alone. The scenario's time is the fresh runner's; the push is outside it.
 */
async function registryScenario(
  plan: BuildPlan,
  buildOpts: BuildOptions,
  scratch: string,
  runBuild: (plan: BuildPlan, opts: BuildOptions) => Promise<BuildSummary>,
  cold: Scenario,
  say: (l: string) => void,
  warnings: string[],
): Promise<{ scenario: Scenario; result: RegistryScenario } | undefined> {
  if (!which('docker-registry')) {
    warnings.push('docker-registry is not installed: the "fresh runner, warm registry" scenario was not measured (apt-get install docker-registry)');
    return undefined;
  }
  const dir = path.join(scratch, 'registry');
  mkdirSync(dir, { recursive: true });
  const keys = generateKeyPair();
  const key = path.join(dir, 'bench.key');
  const pub = path.join(dir, 'bench.pub');
  writeFileSync(key, keys.privatePem, { mode: 0o600 });
  writeFileSync(pub, keys.publicPem);
  const reg = await startLocalRegistry(dir);
  const home = process.env.NGINX_FORGE_HOME;
  try {
    const ref = `oci://${reg.host}/nginx-forge-bench/stage-cache`;
    const settings = { from: [] as string[], trust: [] as string[], kinds: CACHEABLE_KINDS, insecure: false, notes: [] as string[] };
    say(`registry: pushing the warm state dir's entries to ${ref}`);
    const p0 = now();
    const pushed = await runBuild(plan, { ...buildOpts, force: false, remote: { ...settings, to: ref, signKey: key } });
    const pushSeconds = secs(p0);
    const push = pushed.remote ?? { pushed: 0, pushedBytes: 0, pulled: 0, pulledBytes: 0 };
    say(`registry: pushed ${push.pushed} entries, ${(push.pushedBytes / 1e6).toFixed(1)} MB in ${pushSeconds} s`);
    if (push.pushed === 0) warnings.push(`registry: the push to ${ref} sent no entry (see the warnings above): the fresh runner will build`);
    process.env.NGINX_FORGE_HOME = path.join(scratch, 'home-fresh');
    say('registry: fresh runner (empty state dir), every entry from the registry');
    const c0 = cpuMark();
    const s0 = now();
    const fresh = await runBuild(plan, { ...buildOpts, force: false, out: path.join(scratch, 'out-fresh'), remote: { ...settings, from: [ref], trust: [pub] } });
    const seconds = secs(s0);
    const cpuSeconds = cpuSince(c0);
    const built = fresh.stages.filter((s) => s.status === 'built').map((s) => s.id);
    const pull = fresh.remote ?? { pushed: 0, pushedBytes: 0, pulled: 0, pulledBytes: 0 };
    say(`registry: ${seconds} s (CPU ${cpuSeconds ?? '?'} s), pulled ${pull.pulled} entries, ${(pull.pulledBytes / 1e6).toFixed(1)} MB; ran ${built.length ? built.join(', ') : 'nothing'}`);
    const ran = built.filter((id) => stage(plan, id).kind !== 'fetch');
    if (ran.length) warnings.push(`fresh runner, warm registry: stages built instead of pulled: ${ran.join(', ')}`);
    const overCold = Math.round((cold.seconds / Math.max(seconds, 0.001)) * 100) / 100;
    if (overCold < REGISTRY_TARGET) warnings.push(`fresh runner, warm registry: ${overCold}x faster than the cold build, under its ${REGISTRY_TARGET}x target`);
    const sameBinary = sameFile(cold.binary, fresh.binary);
    if (sameBinary === false) warnings.push(`fresh runner, warm registry: its binary ${fresh.binary} differs from the cold build's ${cold.binary}`);
    return {
      scenario: {
        id: 'registry',
        title: 'fresh runner, warm registry: empty state dir, every entry from a signed registry on loopback',
        seconds,
        cpuSeconds,
        stages: fresh.stages,
        built,
        binary: fresh.binary,
        load: loadSample(),
        notes: [`${ref} (docker-registry on loopback, entries signed with a key made for this run)`, `pulled ${pull.pulled} entries, ${pull.pulledBytes} bytes`],
      },
      result: { ref, pushed: push.pushed, pushedBytes: push.pushedBytes, pulled: pull.pulled, pulledBytes: pull.pulledBytes, pushSeconds, overCold, ...(sameBinary === undefined ? {} : { sameBinary }) },
    };
  } finally {
    process.env.NGINX_FORGE_HOME = home;
    await reg.stop();
  }
}

/** The verified distfile of a component (any of its equivalent archives). */
function distfile(distdir: string, artifacts: { file: string; sha256: string }[], what: string): string {
  for (const a of artifacts) {
    const p = path.join(distdir, a.sha256, a.file);
    if (existsSync(p)) return p;
  }
  throw new ForgeError(`${what}: not in the distfiles store ${distdir}`, { hint: 'run `nginx-forge fetch` first' });
}

/** The hand-built way, timed step by step. Returns the steps. */
export async function naiveBuild(
  plan: BuildPlan,
  distdir: string,
  ws: string,
  jobs: number,
  say: (l: string) => void,
  signal?: AbortSignal,
): Promise<{ name: string; seconds: number }[]> {
  mkdirSync(ws, { recursive: true });
  const log = path.join(ws, 'naive.log');
  const steps: { name: string; seconds: number }[] = [];
  const step = async (name: string, body: () => Promise<unknown>) => {
    const s0 = now();
    await body();
    steps.push({ name, seconds: secs(s0) });
    say(`naive: ${name} ${steps.at(-1)!.seconds} s`);
  };
  const c = (name: ComponentName) => plan.components.find((x) => x.name === name)!;
  const ctx = (cwd: string) => ({ component: 'naive', stage: 'bench', log, cwd, signal });
  const src = (name: ComponentName) => path.join(ws, c(name).topdir);
  const deps = path.join(ws, 'deps');

  await step('extract sources and patches', async () => {
    for (const comp of plan.components) await run(ctx(ws), 'tar', ['-xf', distfile(distdir, comp.artifacts, comp.name)]);
    for (const s of plan.patchSets) {
      const dir = path.join(ws, '.patchsets', s.name);
      mkdirSync(dir, { recursive: true });
      await run(ctx(dir), 'tar', ['-xf', distfile(distdir, [s.artifact], `patch set ${s.name}`)]);
    }
  });
  await step('patch', async () => {
    for (const p of plan.patches) {
      const file = p.origin.kind === 'local' ? p.origin.path : path.join(ws, '.patchsets', p.origin.patchSet, p.origin.path);
      await run(ctx(src(p.component)), 'patch', [`-p${p.strip}`, '--batch', '--forward', '-i', file]);
    }
  });
  // libraries nginx's make cannot build in-tree: their own default build, installed in place
  for (const lib of plan.components.filter((x) => x.role !== 'server' && x.consume?.placement === 'deps')) {
    await step(`${lib.name} (${lib.build!.system}, default target, install)`, async () => {
      for (const cmd of libraryCommands(lib, { prefix: path.join(ws, lib.layout!), jobs: [`-j${jobs}`], upstreamDefault: true })) {
        const env: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(cmd.env)) env[k] = v ?? undefined;
        await run({ ...ctx(src(lib.name)), env }, cmd.cmd, cmd.args);
      }
      for (const f of copiedOutputs(lib)) cpSync(path.join(src(lib.name), f), path.join(ws, lib.layout!, f), { recursive: true });
    });
  }
  mkdirSync(deps, { recursive: true });
  await step('nginx ./configure', () => run(ctx(src(server(plan).name)), './configure', plan.configureArgs));
  await step('nginx make (builds OpenSSL and PCRE2 in-tree)', () => run(ctx(src(server(plan).name)), 'make', [`-j${jobs}`]));
  await step('nginx make install', () => run(ctx(src(server(plan).name)), 'make', ['install', `DESTDIR=${path.join(ws, 'root')}`]));
  return steps;
}

/**
 * nginx's own compile+link time, in the naive tree after its build: nginx's objects and binary
 * removed, `make` again. OpenSSL's and PCRE2's rules depend on objs/Makefile, which is unchanged,
 * so only nginx compiles and links.
 */
export async function nginxCompileLink(ws: string, plan: BuildPlan, jobs: number, signal?: AbortSignal): Promise<void> {
  const nginx = server(plan);
  const objs = path.join(ws, nginx.topdir, 'objs');
  const removeObjects = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) removeObjects(p);
      else if (e.name.endsWith('.o')) rmSync(p);
    }
  };
  removeObjects(path.join(objs, 'src'));
  if (existsSync(path.join(objs, 'addon'))) removeObjects(path.join(objs, 'addon'));
  rmSync(path.join(objs, 'ngx_modules.o'), { force: true });
  rmSync(path.join(objs, 'nginx'), { force: true });
  await run({ component: 'naive', stage: 'bench', log: path.join(ws, 'naive-compile-link.log'), cwd: path.join(ws, nginx.topdir), signal }, 'make', [`-j${jobs}`]);
  if (!existsSync(path.join(objs, 'nginx'))) throw new ForgeError(`nginx's make did not link ${path.join(objs, 'nginx')} again`);
}
