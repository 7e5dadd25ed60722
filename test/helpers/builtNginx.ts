// The real build, shared by every test that needs an nginx binary. The first call in a test run
// does the cold build through the CLI (as a user would); later calls hit the stage cache.
// The cold run's summary is kept on disk so the e2e test can assert it built every stage.
// Each test run gets its own empty state dir (set by test/globalSetup.ts, removed at the end),
// so concurrent runs never share half-built state; downloads are shared through one
// content-addressed distfiles store. NGINX_FORGE_TEST_KEEP=1 keeps one fixed state dir between
// local runs instead (fast re-runs; not a cold build).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { PROJECT_ROOT } from '../../src/recipes/load.ts';
import type { BuildSummary } from '../../src/pipeline/types.ts';

export const TEST_ROOT = path.join(PROJECT_ROOT, '.nginx-forge');
export const TEST_HOME = process.env.NGINX_FORGE_TEST_HOME ?? path.join(TEST_ROOT, 'test-home');
export const TEST_DISTFILES = path.join(TEST_ROOT, 'distfiles');
/** the --out directories of this run's builds (never inside the state dir: refused, exit 2) */
export const TEST_DIST = path.join(TEST_ROOT, 'dist', path.basename(TEST_HOME));
export const CLI = path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs');

export type Profile = 'ktls' | 'userspace' | 'ktls-brotli';

export interface SummaryJson {
  profile: string;
  planHash: string;
  binary: string;
  /** the twins (nginx-debug): name → binary */
  variants: Record<string, string>;
  artifacts: string[];
  stages: { id: string; status: 'built' | 'cached' | 'skipped'; seconds: number; detail?: string }[];
  seconds: number;
}

export function forge(args: string[], env: Record<string, string> = {}, timeout = 30 * 60_000) {
  return execa('node', [CLI, ...args], {
    cwd: PROJECT_ROOT,
    reject: false,
    timeout,
    env: { NGINX_FORGE_HOME: TEST_HOME, NGINX_FORGE_DISTDIR: TEST_DISTFILES, ...env },
  });
}

const coldFile = (p: Profile) => path.join(TEST_HOME, `cold-build-${p}.json`);
/**
 * Arguments every build of a profile gets. The userspace binary is only ever run by the smoke VM
 * test's batch (one boot for every scenario), so its build skips its own smoke stage: a second VM
 * boot (~1-2 min on 2 cores) that would prove nothing the batch does not.
 */
const PROFILE_ARGS: Partial<Record<Profile, string[]>> = { userspace: ['--no-smoke'] };

/** Build (or restore) a profile; returns this call's summary and the cold build's summary. */
export async function builtSummary(profile: Profile, extra: string[] = []): Promise<SummaryJson & { cold: SummaryJson }> {
  mkdirSync(TEST_HOME, { recursive: true });
  const out = path.join(TEST_DIST, `dist-${profile}`);
  const r = await forge(['build', '--profile', profile, '--json', '--out', out, ...(PROFILE_ARGS[profile] ?? []), ...extra]);
  if (r.exitCode !== 0) {
    throw new Error(`nginx-forge build --profile ${profile} failed (exit ${r.exitCode}):\n${String(r.stderr).slice(-4000)}`);
  }
  const summary = JSON.parse(String(r.stdout)) as SummaryJson;
  if (!existsSync(coldFile(profile))) writeFileSync(coldFile(profile), JSON.stringify(summary, null, 2));
  const cold = JSON.parse(readFileSync(coldFile(profile), 'utf8')) as SummaryJson;
  return { ...summary, cold };
}

/** Path of the built nginx binary for a profile, or of one of its twins (e.g. "nginx-debug"). */
export async function builtNginx(profile: Profile, variant?: string): Promise<string> {
  const s = await builtSummary(profile);
  if (!variant) return s.binary;
  const b = s.variants[variant];
  if (!b) throw new Error(`the ${profile} build has no ${variant} (twins: ${Object.keys(s.variants).join(', ') || 'none'})`);
  return b;
}

export type { BuildSummary };

/**
 * The ONE arm64 cross build (`build --profile ktls --target aarch64-linux-gnu --no-smoke`),
 * shared by the arm64 e2e tests like the native build above; its stages are cached apart from
 * the native ones (the target is in their keys).
 */
export async function builtCross(profile: Profile, target: string): Promise<SummaryJson> {
  mkdirSync(TEST_HOME, { recursive: true });
  const out = path.join(TEST_DIST, `dist-${profile}-${target}`);
  const r = await forge(['build', '--profile', profile, '--target', target, '--no-smoke', '--json', '--out', out]);
  if (r.exitCode !== 0) throw new Error(`nginx-forge build --profile ${profile} --target ${target} --no-smoke failed (exit ${r.exitCode}):\n${String(r.stderr).slice(-4000)}`);
  return JSON.parse(String(r.stdout)) as SummaryJson;
}
