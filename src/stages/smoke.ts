// Smoke stage of a build: runs the kTLS smoke test on the installed binary and judges the
// result against what the profile promises. A kTLS profile must pass (verdict PASS and every
// required proof: body, gzip/zlib-ng, PCRE2 JIT, jemalloc, nginx -t). A userspace profile must
// say BINARY_NO_KTLS, never PASS, with every proof that does not concern kTLS holding.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ForgeError, ExitCode } from '../errors.ts';
import { libraries, moduleObjects, modules, variantView, type BuildPlan, type PlanVariant } from '../plan.ts';
import { componentProofsOf } from '../smoke/components.ts';
import type { ComponentProof, SmokeModule, SmokeOptions, SmokeResult } from '../smoke/index.ts';

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

/** The plan's components' own proofs (their recipes' verify.nginxT), each required: the plan lists it. */
export function smokeComponentProofs(plan: BuildPlan): ComponentProof[] {
  return componentProofsOf(libraries(plan), true);
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

export interface SmokeBinary {
  /** "nginx", or a twin's name ("nginx-debug") */
  name: string;
  variant?: PlanVariant;
  nginx: string;
  nginxModules: SmokeModule[];
}

/**
 * The build's smoke test: every binary of the plan (production first, then its twins) in one
 * batch, so one VM boot. Each is judged by the proofs it can give: the production binary (no
 * --with-debug) by the kernel counters and the body hashes, the debug twin by its log lines too.
 */
export async function smokeStage(
  binaries: SmokeBinary[],
  plan: BuildPlan,
  opts: SmokeOptions,
): Promise<{ verdict: string; result: SmokeResult; variants?: Record<string, { verdict: string; result: SmokeResult }> }> {
  const { runSmokeBatch } = await import('../smoke/index.ts');
  const results = await runSmokeBatch(
    binaries.map((b) => ({ nginx: b.nginx, ciphers: opts.ciphers, size: opts.size, extras: opts.extras, nginxModules: b.nginxModules, componentProofs: smokeComponentProofs(variantView(plan, b.variant)) })),
    opts,
  );
  const judged = binaries.map((b, i) => {
    const result = requiredByPlan(plan, results[i]!);
    return { b, result, j: judgeForProfile(variantView(plan, b.variant), result) };
  });
  const failed = judged.filter((x) => !x.j.ok);
  if (failed.length) {
    const many = binaries.length > 1;
    throw new ForgeError(`smoke: profile ${plan.profile}: ${failed.map((x) => `${many ? `${x.b.name}: ` : ''}${x.j.why}`).join('; ')}`, {
      exitCode: ExitCode.smoke,
      hint: failed.map((x) => `${many ? `${x.b.name}: ` : ''}${x.result.next ?? 'see the smoke logs'} (logs: ${x.result.logs.dir})`).join('; '),
    });
  }
  const [first, ...twins] = judged;
  return {
    verdict: first!.result.verdict,
    result: first!.result,
    ...(twins.length ? { variants: Object.fromEntries(twins.map((x) => [x.b.name, { verdict: x.result.verdict, result: x.result }])) } : {}),
  };
}
