// The real build, shared by every test that needs an nginx binary. The first call in a test run
// does the cold build through the CLI (as a user would); later calls hit the stage cache.
// The cold run's summary is kept on disk so the e2e test can assert it built every stage.
// TEST_HOME is wiped once per run by test/globalSetup.ts (set NGINX_FORGE_TEST_KEEP=1 to keep
// the cache between local runs).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { PROJECT_ROOT } from '../../src/recipes/load.ts';
import type { BuildSummary } from '../../src/build/types.ts';

export const TEST_HOME = path.join(PROJECT_ROOT, '.nginx-forge', 'test-home');
export const CLI = path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs');

export type Profile = 'ktls' | 'userspace';

export interface SummaryJson {
  profile: string;
  planHash: string;
  binary: string;
  artifacts: string[];
  stages: { id: string; status: 'built' | 'cached' | 'skipped'; seconds: number; detail?: string }[];
  seconds: number;
}

export function forge(args: string[], env: Record<string, string> = {}, timeout = 30 * 60_000) {
  return execa('node', [CLI, ...args], {
    cwd: PROJECT_ROOT,
    reject: false,
    timeout,
    env: { NGINX_FORGE_HOME: TEST_HOME, ...env },
  });
}

const coldFile = (p: Profile) => path.join(TEST_HOME, `cold-build-${p}.json`);

/** Build (or restore) a profile; returns this call's summary and the cold build's summary. */
export async function builtSummary(profile: Profile, extra: string[] = []): Promise<SummaryJson & { cold: SummaryJson }> {
  mkdirSync(TEST_HOME, { recursive: true });
  const out = path.join(TEST_HOME, `dist-${profile}`);
  const r = await forge(['build', '--profile', profile, '--json', '--out', out, ...extra]);
  if (r.exitCode !== 0) {
    throw new Error(`nginx-forge build --profile ${profile} failed (exit ${r.exitCode}):\n${String(r.stderr).slice(-4000)}`);
  }
  const summary = JSON.parse(String(r.stdout)) as SummaryJson;
  if (!existsSync(coldFile(profile))) writeFileSync(coldFile(profile), JSON.stringify(summary, null, 2));
  const cold = JSON.parse(readFileSync(coldFile(profile), 'utf8')) as SummaryJson;
  return { ...summary, cold };
}

/** Path of the built nginx binary for a profile. */
export async function builtNginx(profile: Profile): Promise<string> {
  return (await builtSummary(profile)).binary;
}

export type { BuildSummary };
