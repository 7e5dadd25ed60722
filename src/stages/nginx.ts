// nginx's own stages: configure, compile, install. The workspace puts every dependency where
// plan.layout says, so the configure arguments hold only relative paths (no build path ever
// reaches `nginx -V`), and marks the prebuilt OpenSSL/PCRE2 outputs newer than nginx's Makefile
// so nginx's make links them instead of rebuilding them.
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { run, type RunContext } from '../exec.ts';
import { StageError } from '../errors.ts';
import type { BuildPlan, ComponentName } from '../plan.ts';

export interface NginxWorkspace {
  /** parent dir: holds nginx-x.y.z/, openssl-x/, pcre2-x/, deps/... */
  ws: string;
  /** the nginx source tree inside ws */
  src: string;
  env: Record<string, string>;
  jobs: number;
  log: (stage: string) => string;
  signal?: AbortSignal;
}

/** Copy each dependency's cached build output to its place in the workspace. */
export function placeDependencies(plan: BuildPlan, ws: string, outputs: Partial<Record<ComponentName, string>>): void {
  for (const [name, dir] of Object.entries(outputs)) {
    const dest = path.join(ws, plan.layout[name as ComponentName]);
    mkdirSync(dest, { recursive: true });
    for (const f of readdirSync(dir)) {
      if (f === 'meta.json' || f === 'licenses') continue;
      cpSync(path.join(dir, f), path.join(dest, f), { recursive: true, preserveTimestamps: true });
    }
  }
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
});

export async function configure(plan: BuildPlan, w: NginxWorkspace): Promise<void> {
  await run(ctx(w, 'configure'), './configure', plan.configureArgs);
  const makefile = path.join(w.src, 'objs', 'Makefile');
  if (!existsSync(makefile)) throw new StageError('nginx', 'configure', 'configure finished without writing objs/Makefile', { log: w.log('configure') });
  // prebuilt dependency outputs must look newer than the Makefile their rules depend on
  const past = new Date(Date.now() - 120_000);
  utimesSync(makefile, past, past);
  const now = new Date();
  touchTree(path.join(w.ws, plan.layout.openssl, '.openssl'), now);
  touchTree(path.join(w.ws, plan.layout.pcre2), now);
}

export async function compile(w: NginxWorkspace): Promise<void> {
  await run(ctx(w, 'compile'), 'make', ['-f', 'objs/Makefile', `-j${w.jobs}`]);
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
