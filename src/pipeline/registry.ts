// The implementations of the stage kinds for a real build: each turns its inputs (the outputs of
// the stages it depends on) into its output. Which component, which build system, where a
// library goes: all of it comes from the plan, which comes from the recipes. The runner
// (./runner.ts) decides what runs and keeps the outputs.
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { StageError } from '../errors.ts';
import { fetchArtifact, fetchOneOf, type FetchOptions } from '../fetch/index.ts';
import { component, librariesFor, modules, modulesPath, server, variantView, type BuildPlan, type PlanComponent, type PlanStage, type PlanVariant, type StageKind } from '../plan.ts';
import type { Artifact } from '../recipes/schema.ts';
import type { SmokeOptions } from '../smoke/index.ts';
import type { TestStageInputs } from '../stages/test.ts';
import { compileEnv, makeJobs } from './env.ts';
import type { StageImpl, StageRunContext } from './runner.ts';

export interface BuildContext {
  plan: BuildPlan;
  /** this process's scratch directory: <state>/work/<run>.<pid> */
  work: string;
  jobs: number;
  /** the build's make jobserver; without it each make gets -jN -lN */
  jobserver?: { fd: number; makeflags: string };
  ccache: boolean;
  fetch: FetchOptions;
  smoke: Omit<SmokeOptions, 'signal' | 'onLog'>;
}

interface Fetched {
  artifact: Artifact;
  path: string;
  patchSets: Record<string, string>;
}
interface Tree {
  /** the component's workspace (parent of its source tree) */
  ws: string;
  src: string;
  fetched: Fetched;
}
interface NginxTree extends Tree {
  env: Record<string, string>;
  /** library name -> its cache entry */
  libs: Record<string, string>;
  /** module name -> the archive its placed source tree came from */
  mods: Record<string, { file: string; sha256: string }>;
  epoch: number;
}
/** What every 'dir' entry of a component records about its source. */
export interface SourceMeta {
  epoch: number;
  /** component -> the archive actually used */
  artifacts: Record<string, { file: string; sha256: string }>;
}

const componentOf = (b: BuildContext, ctx: StageRunContext): PlanComponent => component(b.plan, ctx.stage.component!);
const value = <T>(ctx: StageRunContext, id: string) => ctx.input(id).value as T;

/**
 * SOURCE_DATE_EPOCH: the release time of a component, read from a file of its archive (its first
 * license file; extraction keeps file times). Never a directory's time: a directory's mtime
 * changes when anything is created in it, which made builds differ.
 */
const epochOf = (c: PlanComponent, src: string) => Math.floor(statSync(path.join(src, c.licenseFiles[0]!)).mtimeMs / 1000);

export function copyLicenses(c: PlanComponent, src: string, dest: string): void {
  mkdirSync(dest, { recursive: true });
  for (const f of c.licenseFiles) {
    const from = path.join(src, f);
    if (!existsSync(from)) throw new StageError(c.name, 'install', `license file ${f} is missing from the source tree`, { hint: `fix licenseFiles in recipes/components/${c.name}.json` });
    cpSync(from, path.join(dest, path.basename(f)));
  }
}

/**
 * The installed binary inside a DESTDIR tree: plan.install.sbin (the profile's --sbin-path, or
 * <prefix>/sbin/nginx); a twin's (variant's) is beside it under the variant's name.
 */
export function binaryIn(root: string, plan: BuildPlan, variant?: PlanVariant): string {
  return path.join(root, variant ? variant.sbin : plan.install.sbin);
}

/** The variant a stage of nginx's builds for (undefined: the production binary). */
export function variantOf(plan: BuildPlan, st: PlanStage): PlanVariant | undefined {
  if (!st.variant) return undefined;
  const v = plan.variants.find((x) => x.name === st.variant);
  if (!v) throw new Error(`plan has no variant ${st.variant}`);
  return v;
}

/** Every binary of the build with its install stage: the production one first, then its twins. */
export function binariesOf(plan: BuildPlan): { install: string; variant?: PlanVariant; name: string }[] {
  const nginx = server(plan);
  return [{ install: `install:${nginx.name}`, name: nginx.name }, ...plan.variants.map((v) => ({ install: `install:${v.name}`, variant: v, name: v.name }))];
}

export function implementations(b: BuildContext): Record<StageKind, () => Promise<StageImpl>> {
  const plan = b.plan;
  const nginx = server(plan);
  const jobs = b.jobserver ? [] : makeJobs(b.jobs);
  return {
    fetch: async () => ({
      async run(ctx): Promise<Fetched> {
        const c = componentOf(b, ctx);
        const opts: FetchOptions = {
          ...b.fetch,
          signal: ctx.signal,
          onLog: (l) => ctx.update(l),
          onProgress: (e) => ctx.update(`${e.file} ${(e.received / 1e6).toFixed(1)}${e.total ? `/${(e.total / 1e6).toFixed(1)}` : ''} MB`),
        };
        const { artifact, path: file } = await fetchOneOf(c.artifacts, opts);
        const patchSets: Record<string, string> = {};
        for (const s of plan.patchSets.filter((x) => x.component === c.name)) patchSets[s.name] = await fetchArtifact(s.artifact, opts);
        return { artifact, path: file, patchSets };
      },
    }),
    extract: async () => {
      const { extractArchive } = await import('../stages/extract.ts');
      return {
        async run(ctx): Promise<Tree> {
          const c = componentOf(b, ctx);
          const fetched = value<Fetched>(ctx, `fetch:${c.name}`);
          const ws = path.join(b.work, c.name);
          rmSync(ws, { recursive: true, force: true });
          mkdirSync(ws, { recursive: true });
          const src = await extractArchive(fetched.path, ws, c.topdir, { signal: ctx.signal });
          return { ws, src, fetched };
        },
      };
    },
    patch: async () => {
      const { extractArchive } = await import('../stages/extract.ts');
      const { applyPatches } = await import('../stages/patch.ts');
      return {
        async run(ctx): Promise<Tree> {
          const c = componentOf(b, ctx);
          const tree = value<Tree>(ctx, `extract:${c.name}`);
          const patches = plan.patches.filter((p) => p.component === c.name);
          const patchSetDirs: Record<string, string> = {};
          for (const s of plan.patchSets.filter((x) => x.component === c.name)) {
            const dir = path.join(tree.ws, '.patchsets', s.name);
            mkdirSync(dir, { recursive: true });
            await extractArchive(tree.fetched.patchSets[s.name]!, dir, s.artifact.topdir, { signal: ctx.signal });
            patchSetDirs[s.name] = dir;
          }
          await applyPatches({ srcDir: tree.src, patches, patchSetDirs, log: ctx.log, signal: ctx.signal }, c.name);
          if (patches.length) ctx.update(`${patches.length} patches applied`);
          return tree;
        },
      };
    },
    library: async () => {
      const { buildLibrary } = await import('../stages/library.ts');
      return {
        async run(ctx): Promise<SourceMeta> {
          const c = componentOf(b, ctx);
          const tree = value<Tree>(ctx, `patch:${c.name}`);
          const epoch = epochOf(c, tree.src);
          await buildLibrary({
            component: c,
            srcDir: tree.src,
            out: ctx.out,
            jobs,
            jobserver: b.jobserver,
            env: compileEnv(tree.ws, epoch, b.ccache, 'lines'),
            log: ctx.log,
            signal: ctx.signal,
            onStep: (s) => ctx.update(s),
          });
          copyLicenses(c, tree.src, path.join(ctx.out, 'licenses', c.name));
          rmSync(tree.ws, { recursive: true, force: true });
          return { epoch, artifacts: { [c.name]: { file: tree.fetched.artifact.file, sha256: tree.fetched.artifact.sha256 } } };
        },
      };
    },
    configure: async () => {
      const { configure, placeLibraries } = await import('../stages/nginx.ts');
      return {
        async run(ctx): Promise<NginxTree> {
          const patched = value<Tree>(ctx, `patch:${nginx.name}`);
          // each binary (production, twins) configures and compiles in its own copy of the patched
          // tree: the shared one stays pristine while both builds run side by side
          const variant = variantOf(plan, ctx.stage);
          const ws = path.join(b.work, 'build', variant?.name ?? nginx.name);
          rmSync(ws, { recursive: true, force: true });
          const tree: Tree = { ...patched, ws, src: path.join(ws, path.relative(patched.ws, patched.src)) };
          cpSync(patched.src, tree.src, { recursive: true, preserveTimestamps: true });
          const libs = Object.fromEntries(librariesFor(plan, 'configure').map((l) => [l.name, ctx.input(`library:${l.name}`).dir!]));
          const epoch = epochOf(nginx, tree.src);
          const env = compileEnv(tree.ws, epoch, b.ccache);
          placeLibraries(plan, tree.ws, libs, 'configure');
          // modules: the patched source tree goes where the plan's layout says, beside nginx's
          const mods: NginxTree['mods'] = {};
          for (const m of modules(plan)) {
            const t = value<Tree>(ctx, `patch:${m.name}`);
            const dest = path.join(tree.ws, m.layout!);
            rmSync(dest, { recursive: true, force: true });
            mkdirSync(path.dirname(dest), { recursive: true });
            cpSync(t.src, dest, { recursive: true, preserveTimestamps: true });
            mods[m.name] = { file: t.fetched.artifact.file, sha256: t.fetched.artifact.sha256 };
          }
          await configure(variantView(plan, variant), { ws: tree.ws, src: tree.src, env, jobs, log: () => ctx.log, signal: ctx.signal });
          return { ...tree, env, libs, mods, epoch };
        },
      };
    },
    compile: async () => {
      const { compile, placeLibraries } = await import('../stages/nginx.ts');
      return {
        async run(ctx): Promise<NginxTree> {
          const configured = value<NginxTree>(ctx, `configure:${variantOf(plan, ctx.stage)?.name ?? nginx.name}`);
          // the libraries only nginx's make reads (an in-tree OpenSSL) were built beside configure
          const late = Object.fromEntries(librariesFor(plan, 'make').map((l) => [l.name, ctx.input(`library:${l.name}`).dir!]));
          placeLibraries(plan, configured.ws, late, 'make');
          const t: NginxTree = { ...configured, libs: { ...configured.libs, ...late } };
          await compile({ ws: t.ws, src: t.src, env: t.env, jobs, jobserver: b.jobserver, log: () => ctx.log, signal: ctx.signal });
          return t;
        },
      };
    },
    install: async () => {
      const { install } = await import('../stages/nginx.ts');
      return {
        async run(ctx): Promise<SourceMeta> {
          const variant = variantOf(plan, ctx.stage);
          const t = value<NginxTree>(ctx, `compile:${variant?.name ?? nginx.name}`);
          const root = path.join(ctx.out, 'root');
          await install({ ws: t.ws, src: t.src, env: t.env, jobs: [], log: () => ctx.log, signal: ctx.signal }, root);
          // a twin goes beside the production binary under its own name (nginx-debug)
          if (variant) renameSync(binaryIn(root, plan), binaryIn(root, plan, variant));
          const lic = path.join(ctx.out, 'licenses');
          copyLicenses(nginx, t.src, path.join(lic, nginx.name));
          const artifacts: SourceMeta['artifacts'] = { [nginx.name]: { file: t.fetched.artifact.file, sha256: t.fetched.artifact.sha256 } };
          for (const m of modules(plan)) {
            copyLicenses(m, path.join(t.ws, m.layout!), path.join(lic, m.name));
            artifacts[m.name] = t.mods[m.name]!;
          }
          for (const [name, dir] of Object.entries(t.libs)) {
            cpSync(path.join(dir, 'licenses', name), path.join(lic, name), { recursive: true });
            Object.assign(artifacts, (JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as SourceMeta).artifacts);
          }
          rmSync(t.ws, { recursive: true, force: true });
          return { epoch: t.epoch, artifacts };
        },
      };
    },
    verify: async () => {
      const { verifyBinary, assertChecks } = await import('../stages/verify.ts');
      return {
        async run(ctx) {
          // every binary against its own configure arguments: production first, then its twins
          const out: Record<string, Awaited<ReturnType<typeof verifyBinary>>> = {};
          for (const b of binariesOf(plan)) {
            const root = path.join(ctx.input(b.install).dir!, 'root');
            const binary = binaryIn(root, plan, b.variant);
            const checks = await verifyBinary(binary, variantView(plan, b.variant), { root });
            assertChecks(binary, checks);
            out[b.name] = checks;
          }
          const { [nginx.name]: checks, ...variants } = out;
          return { checks, ...(plan.variants.length ? { variants } : {}) };
        },
      };
    },
    smoke: async () => {
      const { smokeStage, smokeModules } = await import('../stages/smoke.ts');
      return {
        async run(ctx) {
          // the production binary and its twins, in one VM boot: each judged by the proofs it can give
          const binaries = binariesOf(plan).map((x) => {
            const root = path.join(ctx.input(x.install).dir!, 'root');
            return { name: x.name, variant: x.variant, nginx: binaryIn(root, plan, x.variant), nginxModules: smokeModules(plan, path.join(root, modulesPath(plan))) };
          });
          return smokeStage(binaries, plan, { ...b.smoke, signal: ctx.signal, onLog: (l: string) => ctx.update(l) });
        },
      };
    },
    test: async () => {
      const { testStage } = await import('../stages/test.ts');
      return {
        async run(ctx) {
          const binary = binaryIn(path.join(ctx.input(`install:${nginx.name}`).dir!, 'root'), plan);
          return testStage(binary, plan, ctx.stage.keyInputs.inputs as TestStageInputs, {
            fetch: b.fetch,
            jobs: Math.min(Math.max(b.jobs, 1), 64),
            logsDir: path.join(path.dirname(ctx.log), 'test'),
            signal: ctx.signal,
            onLog: (l) => {
              appendFileSync(ctx.log, `${l}\n`);
              ctx.update(l);
            },
          });
        },
      };
    },
    artifacts: async () => {
      const { writeArtifacts } = await import('../stages/artifacts.ts');
      return {
        async run(ctx) {
          const inst = ctx.input(`install:${nginx.name}`);
          const meta = inst.meta as unknown as SourceMeta;
          const root = path.join(inst.dir!, 'root');
          const variantBinaries = Object.fromEntries(plan.variants.map((v) => [v.name, binaryIn(path.join(ctx.input(`install:${v.name}`).dir!, 'root'), plan, v)]));
          const files = await writeArtifacts({ plan, root, licensesDir: path.join(inst.dir!, 'licenses'), artifactFiles: meta.artifacts, epoch: meta.epoch, out: path.join(ctx.out, 'out'), variantBinaries });
          return { files: files.map((f) => path.basename(f)) };
        },
      };
    },
  };
}
