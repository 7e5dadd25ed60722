// Smoke stage of a build: runs the kTLS smoke test on the installed binary and judges the
// result against what the profile promises. A kTLS profile must pass (verdict PASS and every
// required proof: body, gzip/zlib-ng, PCRE2 JIT, jemalloc, nginx -t). A userspace profile must
// say BINARY_NO_KTLS, never PASS, with every proof that does not concern kTLS holding.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ForgeError, ExitCode } from '../errors.ts';
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

/**
 * A proof named after a component recipe (recipes/components/<name>.json, `-` as `_`), e.g.
 * jemalloc, is required exactly when the plan lists that component: a profile without it (the
 * sanitizer profile builds without jemalloc) still gets it reported, never required; a profile
 * with it cannot pass without it, whatever the binary claims.
 */
export function requiredByPlan(plan: BuildPlan, r: SmokeResult): SmokeResult {
  const proofs = { ...r.proofs };
  for (const [k, p] of Object.entries(proofs)) {
    const name = k.replaceAll('_', '-');
    if (!existsSync(path.join(plan.recipesDir, 'components', `${name}.json`))) continue;
    proofs[k] = { ...p, required: plan.components.some((c) => c.name === name) };
  }
  const failed = Object.entries(proofs).filter(([, p]) => p.required && !p.ok);
  return { ...r, proofs, passed: r.verdict === 'PASS' && failed.length === 0 };
}

export function judgeForProfile(plan: BuildPlan, smoke: SmokeResult): { ok: boolean; why: string } {
  const r = requiredByPlan(plan, smoke);
  if (plan.ktls) {
    const failed = Object.entries(r.proofs).filter(([, p]) => p.required && !p.ok);
    return { ok: r.passed, why: r.passed ? 'PASS' : r.verdict === 'PASS' ? `PASS, but required proof(s) failed: ${failed.map(([k, p]) => `${k} (${p.detail})`).join('; ')}` : `${r.verdict}: ${r.reason}` };
  }
  if (r.verdict !== 'BINARY_NO_KTLS') return { ok: false, why: `expected BINARY_NO_KTLS for a userspace profile, got ${r.verdict}: ${r.reason}` };
  const failed = Object.entries(r.proofs).filter(([k, p]) => !KTLS_PROOFS.has(k) && p.required && !p.ok);
  return failed.length
    ? { ok: false, why: `BINARY_NO_KTLS, but ${failed.map(([k, p]) => `${k}: ${p.detail}`).join('; ')}` }
    : { ok: true, why: 'BINARY_NO_KTLS, as a userspace profile should' };
}

export async function smokeStage(binary: string, plan: BuildPlan, opts: SmokeOptions): Promise<{ verdict: string; result: SmokeResult }> {
  const { runSmoke } = await import('../smoke/index.ts');
  const result = requiredByPlan(plan, await runSmoke(binary, opts));
  const j = judgeForProfile(plan, result);
  if (!j.ok) {
    throw new ForgeError(`smoke: profile ${plan.profile}: ${j.why}`, {
      exitCode: ExitCode.smoke,
      hint: `${result.next ?? 'see the smoke logs'} (logs: ${result.logs.dir})`,
    });
  }
  return { verdict: result.verdict, result };
}
