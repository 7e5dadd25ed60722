// The smoke stage's required proofs follow the plan's components (data, not profile names): a proof
// named after a component recipe is required exactly when the plan lists that component.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_RECIPES, loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { judgeForProfile, requiredByPlan, smokeComponentProofs } from '../src/stages/smoke.ts';
import { catalogComponentProofs, settleRequired } from '../src/smoke/components.ts';
import { componentT, renderProbe } from '../src/smoke/probe.ts';
import { MATRIX } from '../src/smoke/suites.ts';
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

describe('smoke: component proofs come from recipe data', () => {
  const recipes = loadRecipes();
  it("the plan's components with a verify.nginxT, required; the catalog's, required when -V names them", () => {
    const jemalloc = JSON.parse(readFileSync(path.join(BUILTIN_RECIPES, 'components/jemalloc.json'), 'utf8')).verify.nginxT;
    expect(smokeComponentProofs(resolvePlan(recipes, 'ktls'))).toEqual([{ name: 'jemalloc', displayName: 'jemalloc', env: jemalloc.env, expect: jemalloc.expect, required: true }]);
    expect(smokeComponentProofs(resolvePlan(recipes, 'ktls-asan'))).toEqual([]);
    const catalog = catalogComponentProofs();
    expect(catalog).toContainEqual({ name: 'jemalloc', displayName: 'jemalloc', env: jemalloc.env, expect: jemalloc.expect });
    const je = catalog.find((c) => c.name === 'jemalloc')!;
    expect(settleRequired(je, "--with-ld-opt='-L../deps/jemalloc/lib -ljemalloc'").required).toBe(true);
    expect(settleRequired(je, '--with-debug').required).toBe(false);
    expect(settleRequired({ ...je, required: true }, '--with-debug').required).toBe(true);
  });

  it("the probe runs nginx -t once plainly and once per component with its recipe's environment", () => {
    const base = { nginx: '/n', work: '/w', io: '/io', size: 4096, tlsPort: 1, httpPort: 2, upstreamPort: 3, suites: MATRIX, extras: false, uaToken: 't' };
    const probe = renderProbe({ ...base, components: catalogComponentProofs() });
    expect(probe).toContain(`env 'MALLOC_CONF=stats_print:true' "$NGINX" -t -p "$WORK/" -c "$CONF" -e "$ERRLOG" > "$IO/${componentT('jemalloc')}" 2>&1`);
    expect(probe).toMatch(/^"\$NGINX" -t -p "\$WORK\/" -c "\$CONF" -e "\$ERRLOG" > "\$IO\/nginx-t.txt" 2>&1$/m);
    expect(renderProbe({ ...base, components: [] })).not.toContain('MALLOC_CONF');
  });
});

