// verify: every binary (production first, then its twins) checked against its own configure
// arguments and the recipes' expectations: nginx -V, symbols, linked libraries, nginx -t.
import { server, variantView } from '../../plan.ts';
import { assertChecks, verifyBinary } from '../verify.ts';
import { binariesOf, binaryIn, installRoot, type Implement } from './common.ts';

export const implement: Implement = (b) => ({
  async run(ctx) {
    const plan = b.plan;
    const out: Record<string, Awaited<ReturnType<typeof verifyBinary>>> = {};
    for (const x of binariesOf(plan)) {
      const root = installRoot(ctx, x.install);
      const binary = binaryIn(root, plan, x.variant);
      const checks = await verifyBinary(binary, variantView(plan, x.variant), { root });
      assertChecks(binary, checks);
      out[x.name] = checks;
    }
    const { [server(plan).name]: checks, ...variants } = out;
    return { checks, ...(plan.variants.length ? { variants } : {}) };
  },
});
