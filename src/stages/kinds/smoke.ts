// smoke: the production binary and its twins served over TLS in one VM boot (or natively when
// the host kernel has kTLS), each judged by the proofs it can give.
import path from 'node:path';
import { modulesPath } from '../../plan.ts';
import { smokeModules, smokeStage } from '../smoke.ts';
import { smokeGuestRoot } from '../../package/chroot.ts';
import { binariesOf, binaryIn, installRoot, type Implement } from './common.ts';

export const implement: Implement = (b) => ({
  async run(ctx) {
    const plan = b.plan;
    const binaries = binariesOf(plan).map((x) => {
      const root = installRoot(ctx, x.install);
      return { name: x.name, variant: x.variant, nginx: binaryIn(root, plan, x.variant), nginxModules: smokeModules(plan, path.join(root, modulesPath(plan))) };
    });
    // a cross build's binaries run in a VM of the target's machine, in a root of its architecture
    const guestRoot = plan.cross ? () => smokeGuestRoot(plan.target, ctx.log, ctx.signal) : undefined;
    return smokeStage(binaries, plan, { ...b.smoke, target: plan.target, guestRoot, signal: ctx.signal, onLog: (l: string) => ctx.update(l) });
  },
});
