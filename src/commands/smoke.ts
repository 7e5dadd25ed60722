// nginx-forge smoke <nginx> [--profile P]: prove kernel TLS + SSL_sendfile with a real TLS download.
// Exit 0 only on PASS (with every required proof); ExitCode.smoke otherwise. With --profile the
// plan's module and component proofs run too, and the result is judged as the build's smoke
// stage judges it (a userspace profile must say BINARY_NO_KTLS).
import path from 'node:path';
import { ExitCode, UsageError } from '../errors.ts';
import { catalogComponentProofs } from '../smoke/components.ts';
import { judgeForProfile, requiredByPlan, smokeComponentProofs, smokeModules } from '../stages/smoke.ts';
import { modulesDirFor } from '../stages/verify.ts';
import { planFromFlags } from '../flags/plan.ts';
import { interruptible } from './common.ts';
import { plainOutput } from '../paths.ts';
import { formatHuman, toJson } from '../smoke/report.ts';
import type { BuildPlan } from '../plan.ts';
import type { ComponentProof, SmokeModule, VmMode } from '../smoke/types.ts';

export interface SmokeFlags {
  profile?: string;
  set?: string[];
  recipes?: string;
  prefix?: string;
  vm?: VmMode;
  kernel?: string;
  modules?: string;
  ciphers?: string;
  size?: string;
  json?: boolean;
  distdir?: string;
}

/** "4194304", "4M", "4MiB", "512k", "1G" → bytes. */
export function parseSize(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = /^\s*(\d+)\s*([kmg]?)(i?b)?\s*$/i.exec(s);
  if (!m) throw new UsageError(`--size ${s}: not a size (bytes, or with K/M/G, e.g. 4M)`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

/**
 * What the smoke test proves besides kTLS: with --profile, the plan's modules (their .so files
 * found beside the binary, as verify finds them) and its components' proofs; without, every
 * component recipe's proof (required when the binary's configure arguments name it).
 */
export function smokeInputs(nginx: string, flags: Pick<SmokeFlags, 'profile' | 'set' | 'recipes' | 'prefix'>): { plan?: BuildPlan; nginxModules?: SmokeModule[]; componentProofs: ComponentProof[] } {
  if (!flags.profile && (flags.set?.length || flags.prefix)) throw new UsageError(`${flags.set?.length ? '--set' : '--prefix'} needs --profile: it says how the binary was built`, 'add --profile <name> (the profile the binary was built with)');
  if (!flags.profile) return { componentProofs: catalogComponentProofs(flags.recipes ? path.resolve(flags.recipes) : undefined) };
  const plan = planFromFlags({ profile: flags.profile, set: flags.set, recipes: flags.recipes, prefix: flags.prefix }, false);
  return { plan, nginxModules: smokeModules(plan, modulesDirFor(path.resolve(nginx), plan)), componentProofs: smokeComponentProofs(plan) };
}

export async function run(nginx: string, flags: SmokeFlags): Promise<number> {
  const { runSmoke } = await import('../smoke/index.ts');
  const plain = plainOutput();
  const size = parseSize(flags.size);
  const { plan, ...planned } = smokeInputs(nginx, flags);
  return interruptible('smoke test', async (signal) => {
    const raw = await runSmoke(nginx, {
      ...planned,
      vm: flags.vm ?? 'auto',
      kernel: flags.kernel,
      modules: flags.modules,
      ciphers: flags.ciphers ? [flags.ciphers] : undefined,
      size,
      distdir: flags.distdir,
      signal,
      onLog: (l) => process.stderr.write(`${plain ? `[${new Date().toISOString().slice(11, 19)}] ` : ''}smoke: ${l}\n`),
    });
    const result = plan ? requiredByPlan(plan, raw) : raw;
    const profile = plan ? judgeForProfile(plan, raw) : undefined;
    if (flags.json) process.stdout.write(`${JSON.stringify({ ...toJson(result), ...(profile && plan ? { profile: { name: plan.profile, ok: profile.ok, why: profile.why } } : {}) }, null, 2)}\n`);
    else {
      process.stdout.write(formatHuman(result));
      if (profile && plan) process.stdout.write(`profile: ${plan.profile}: ${profile.ok ? 'ok' : 'FAIL'}: ${profile.why}\n`);
    }
    // a profile judges as the build does (a userspace profile passes with BINARY_NO_KTLS)
    return (profile ? profile.ok : result.passed) ? ExitCode.ok : ExitCode.smoke;
  });
}
