// The smoke stage's required proofs follow the plan's components (data, not profile names): a proof
// named after a component recipe is required exactly when the plan lists that component.
import { describe, expect, it } from 'vitest';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { judgeForProfile, requiredByPlan } from '../src/stages/smoke.ts';
import type { SmokeResult } from '../src/smoke/index.ts';

function result(jemallocOk: boolean, jemallocClaimed: boolean): SmokeResult {
  const proof = (ok: boolean, required = true) => ({ ok, detail: ok ? 'ok' : 'not seen', required });
  return {
    verdict: 'PASS',
    reason: 'kTLS offload proven',
    mode: 'native',
    passed: jemallocOk || !jemallocClaimed,
    proofs: { ktls_log: proof(true), body: proof(true), pcre_jit: proof(true), zlib_ng: proof(true), jemalloc: proof(jemallocOk, jemallocClaimed), nginx_t: proof(true) },
    ciphers: [],
    logs: { dir: '/tmp/x' },
    env: { kernel: '6.1', kernelTls: true, nginx: '/x/nginx', debug: true, opensslKtls: 'yes', durationMs: 1 },
  } as SmokeResult;
}

describe('smoke: required proofs come from the plan', () => {
  const recipes = loadRecipes();
  const ktls = resolvePlan(recipes, 'ktls');
  const asan = resolvePlan(recipes, 'ktls-asan');

  it('a profile without jemalloc passes without the jemalloc proof; it is still reported', () => {
    const r = requiredByPlan(asan, result(false, false));
    expect(r.proofs.jemalloc).toMatchObject({ ok: false, required: false });
    expect(r.passed).toBe(true);
    expect(judgeForProfile(asan, result(false, false)).ok).toBe(true);
  });

  it('a profile with jemalloc fails without the proof, even when the binary does not claim it', () => {
    const r = requiredByPlan(ktls, result(false, false));
    expect(r.proofs.jemalloc!.required).toBe(true);
    expect(r.passed).toBe(false);
    const j = judgeForProfile(ktls, result(false, false));
    expect(j.ok).toBe(false);
    expect(j.why).toContain('jemalloc');
    expect(judgeForProfile(ktls, result(true, true)).ok).toBe(true);
  });

  it('proofs not named after a component keep their own requirement', () => {
    const r = requiredByPlan(asan, result(true, false));
    expect(r.proofs.ktls_log!.required).toBe(true);
    expect(r.proofs.nginx_t!.required).toBe(true);
  });
});
