// Smoke stage of a build: runs the kTLS smoke test on the installed binary and judges the
// result against what the profile promises. A kTLS profile must pass (verdict PASS and every
// required proof: body, gzip/zlib-ng, PCRE2 JIT, jemalloc, nginx -t). A userspace profile must
// say BINARY_NO_KTLS, never PASS, with every proof that does not concern kTLS holding.
import { ForgeError, ExitCode } from '../errors.ts';
import path from 'node:path';
import { moduleObjects, modules, type BuildPlan } from '../plan.ts';
import type { SmokeModule, SmokeOptions, SmokeResult } from '../smoke/index.ts';

/** The plan's modules as the smoke test takes them: .so files in `modulesDir` to load, the encoding to prove. */
export function smokeModules(plan: BuildPlan, modulesDir: string): SmokeModule[] {
  return modules(plan).map((m) => ({
    name: m.name,
    displayName: m.displayName,
    link: m.module.link,
    load: moduleObjects(m).map((so) => path.join(modulesDir, so)),
    directives: m.module.directives,
    ...(m.module.encoding ? { encoding: m.module.encoding } : {}),
  }));
}

const KTLS_PROOFS = new Set(['ktls_log', 'ktls_counters']);

export function judgeForProfile(plan: BuildPlan, r: SmokeResult): { ok: boolean; why: string } {
  if (plan.ktls) return { ok: r.passed, why: r.passed ? 'PASS' : `${r.verdict}: ${r.reason}` };
  if (r.verdict !== 'BINARY_NO_KTLS') return { ok: false, why: `expected BINARY_NO_KTLS for a userspace profile, got ${r.verdict}: ${r.reason}` };
  const failed = Object.entries(r.proofs).filter(([k, p]) => !KTLS_PROOFS.has(k) && p.required && !p.ok);
  return failed.length
    ? { ok: false, why: `BINARY_NO_KTLS, but ${failed.map(([k, p]) => `${k}: ${p.detail}`).join('; ')}` }
    : { ok: true, why: 'BINARY_NO_KTLS, as a userspace profile should' };
}

export async function smokeStage(binary: string, plan: BuildPlan, opts: SmokeOptions): Promise<{ verdict: string; result: SmokeResult }> {
  const { runSmoke } = await import('../smoke/index.ts');
  const result = await runSmoke(binary, opts);
  const j = judgeForProfile(plan, result);
  if (!j.ok) {
    throw new ForgeError(`smoke: profile ${plan.profile}: ${j.why}`, {
      exitCode: ExitCode.smoke,
      hint: `${result.next ?? 'see the smoke logs'} (logs: ${result.logs.dir})`,
    });
  }
  return { verdict: result.verdict, result };
}
