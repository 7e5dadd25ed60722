// What the stage implementations share: the build context the runner gives them, the shapes of
// the values one stage hands to the next, and the few helpers several of them need. Every
// implementation module (./<kind>.ts) imports this one, so it is in every kind's key.
import { cpSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { StageError } from '../../errors.ts';
import type { FetchOptions } from '../../fetch/index.ts';
import { component, server, stageId, type BuildPlan, type PlanComponent, type PlanStage, type PlanVariant } from '../../plan.ts';
import type { Artifact } from '../../recipes/schema.ts';
import type { SmokeOptions } from '../../smoke/index.ts';
import type { StageImpl, StageRunContext } from '../../pipeline/runner.ts';

export type { StageImpl, StageRunContext };

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

/** An implementation module's one export: the kind's implementation for a build. */
export type Implement = (b: BuildContext) => StageImpl;

export interface Fetched {
  artifact: Artifact;
  path: string;
  patchSets: Record<string, string>;
}
export interface Tree {
  /** the component's workspace (parent of its source tree) */
  ws: string;
  src: string;
  fetched: Fetched;
}
export interface NginxTree extends Tree {
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

export const componentOf = (b: BuildContext, ctx: StageRunContext): PlanComponent => component(b.plan, ctx.stage.component!);
export const value = <T>(ctx: StageRunContext, id: string) => ctx.input(id).value as T;

/**
 * SOURCE_DATE_EPOCH: the release time of a component, read from a file of its archive (its first
 * license file; extraction keeps file times). Never a directory's time: a directory's mtime
 * changes when anything is created in it, which made builds differ.
 */
export const epochOf = (c: PlanComponent, src: string) => Math.floor(statSync(path.join(src, c.licenseFiles[0]!)).mtimeMs / 1000);

export function copyLicenses(c: PlanComponent, src: string, dest: string, stage: 'library' | 'install' = 'install'): void {
  mkdirSync(dest, { recursive: true });
  for (const f of c.licenseFiles) {
    const from = path.join(src, f);
    if (!existsSync(from)) throw new StageError(c.name, stage, `license file ${f} is missing from the source tree`, { hint: `fix licenseFiles in recipes/components/${c.name}.json` });
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

/** The name nginx's stages of a binary carry: the variant's (nginx-debug) or the server component's. */
export const binaryName = (plan: BuildPlan, variant?: PlanVariant): string => variant?.name ?? server(plan).name;

/** Every binary of the build with its install stage: the production one first, then its twins. */
export function binariesOf(plan: BuildPlan): { install: string; variant?: PlanVariant; name: string }[] {
  return [undefined, ...plan.variants].map((variant) => ({ install: stageId('install', binaryName(plan, variant)), name: binaryName(plan, variant), ...(variant ? { variant } : {}) }));
}

/** The root of an install stage's entry (its DESTDIR tree). */
export const installRoot = (ctx: StageRunContext, install: string): string => path.join(ctx.input(install).dir!, 'root');
