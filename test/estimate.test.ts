import { describe, expect, it } from 'vitest';
import { firstBuildEstimates } from '../src/pipeline/estimate.ts';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';

describe('first-build estimates', () => {
  it('rank OpenSSL\'s build first among the ktls libraries, and every stage has one', () => {
    const plan = resolvePlan(loadRecipes(), 'ktls', { toolchain: { cc: 'gcc 12' } });
    const est = firstBuildEstimates(plan);
    for (const s of plan.stages) expect(est.get(s.id), s.id).toBeGreaterThan(0);
    const libs = plan.stages.filter((s) => s.kind === 'library').sort((a, b) => est.get(b.id)! - est.get(a.id)!);
    expect(libs[0]!.id).toBe('library:openssl');
    expect(est.get('library:openssl')!).toBeGreaterThan(est.get('compile:nginx')!);
  });
});
