// nginx's own stages: configure, compile, install. The workspace puts every library's build
// output where its plan layout says, so the configure arguments hold only relative paths (no
// build path ever reaches `nginx -V`), and marks what a recipe's `newerThanMakefile` names
// newer than nginx's Makefile, so nginx's make links prebuilt trees instead of rebuilding them.
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, type RunContext } from '../exec.ts';
import { StageError } from '../errors.ts';
import { librariesFor, type BuildPlan, type PlanComponent } from '../plan.ts';
import { autotestCompiler } from '../target.ts';
import { which } from '../which.ts';

export interface NginxWorkspace {
  /** parent dir: holds nginx-x.y.z/, openssl-x/, pcre2-x/, deps/... */
  ws: string;
  /** the nginx source tree inside ws */
  src: string;
  env: Record<string, string>;
  /** make's parallelism arguments */
  jobs: string[];
  log: (stage: string) => string;
  signal?: AbortSignal;
  jobserver?: RunContext['jobserver'];
}

/**
 * Copy the cached build outputs of one phase's libraries to their places in the workspace. The
 * make-phase ones are placed after configure: then, like the others, what their recipe's
 * `newerThanMakefile` names is made newer than nginx's Makefile.
 */
export function placeLibraries(plan: BuildPlan, ws: string, outputs: Record<string, string>, phase: 'configure' | 'make'): void {
  for (const c of librariesFor(plan, phase)) {
    const dir = outputs[c.name];
    if (!dir || !c.layout) continue;
    const dest = path.join(ws, c.layout);
    mkdirSync(dest, { recursive: true });
    for (const f of readdirSync(dir)) {
      if (f === 'meta.json' || f === 'licenses') continue;
      cpSync(path.join(dir, f), path.join(dest, f), { recursive: true, preserveTimestamps: true });
    }
    if (phase === 'make') markNewer(ws, c);
  }
}

function markNewer(ws: string, c: PlanComponent): void {
  const now = new Date();
  for (const p of c.consume?.newerThanMakefile ?? []) touchTree(path.join(ws, c.layout!, p), now);
}

function touchTree(p: string, t: Date): void {
  if (!existsSync(p)) return;
  if (statSync(p).isDirectory()) for (const f of readdirSync(p)) touchTree(path.join(p, f), t);
  utimesSync(p, t, t);
}

const ctx = (w: NginxWorkspace, stage: string): RunContext => ({
  component: 'nginx',
  stage,
  log: w.log(stage),
  cwd: w.src,
  env: w.env,
  signal: w.signal,
  jobserver: w.jobserver,
});

/**
 * A cross build's configure: the compiler it runs is the wrapper of src/target.ts, first in its
 * PATH under the cross compiler's name, so that the test programs configure compiles run under
 * qemu-user (configure alone: make, in the compile stage, finds the real compiler).
 */
function crossConfigureEnv(plan: BuildPlan, w: NginxWorkspace): Record<string, string> {
  const t = plan.target;
  if (!which(t.qemu)) {
    throw new StageError('nginx', 'configure', `a cross build for ${t.triple} runs nginx's configure test programs under ${t.qemu}, which is not installed`, {
      hint: `apt-get install ${t.crossPackages.join(' ')} (nginx-forge doctor --target ${t.triple} lists what a cross build needs)`,
    });
  }
  const dir = path.join(w.ws, '.forge-cross', 'bin');
  mkdirSync(dir, { recursive: true });
  const pathVar = w.env.PATH ?? process.env.PATH ?? '/usr/bin:/bin';
  writeFileSync(path.join(dir, `${t.triple}-gcc`), autotestCompiler(t, pathVar), { mode: 0o755 });
  return { ...w.env, PATH: `${dir}:${pathVar}` };
}

export async function configure(plan: BuildPlan, w: NginxWorkspace): Promise<void> {
  const c = ctx(w, 'configure');
  await run(plan.cross ? { ...c, env: crossConfigureEnv(plan, w) } : c, './configure', plan.configureArgs);
  const makefile = path.join(w.src, 'objs', 'Makefile');
  if (!existsSync(makefile)) throw new StageError('nginx', 'configure', 'configure finished without writing objs/Makefile', { log: w.log('configure') });
  // prebuilt dependency outputs must look newer than the Makefile their rules depend on
  const past = new Date(Date.now() - 120_000);
  utimesSync(makefile, past, past);
  for (const c of librariesFor(plan, 'configure')) markNewer(w.ws, c);
}

export async function compile(w: NginxWorkspace): Promise<void> {
  await run(ctx(w, 'compile'), 'make', ['-f', 'objs/Makefile', ...w.jobs]);
  if (!existsSync(path.join(w.src, 'objs', 'nginx'))) {
    throw new StageError('nginx', 'compile', 'make finished without producing objs/nginx', { log: w.log('compile') });
  }
}

export async function install(w: NginxWorkspace, root: string): Promise<void> {
  await run(ctx(w, 'install'), 'make', ['-f', 'objs/Makefile', 'install', `DESTDIR=${root}`]);
  // nginx's install target skips the manual page configure wrote with this build's paths
  const man = path.join(w.src, 'objs', 'nginx.8');
  if (existsSync(man)) {
    mkdirSync(path.join(root, 'usr/share/man/man8'), { recursive: true });
    cpSync(man, path.join(root, 'usr/share/man/man8/nginx.8'));
  }
}
