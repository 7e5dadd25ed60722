// patch:<component>: the distro patch sets and the project's own patches applied to the
// extracted tree, in the plan's order.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { stageId } from '../../plan.ts';
import { extractArchive } from '../../archive/extract.ts';
import { applyPatches } from '../patch.ts';
import { componentOf, value, type Implement, type Tree } from './common.ts';

export const implement: Implement = (b) => ({
  async run(ctx): Promise<Tree> {
    const c = componentOf(b, ctx);
    const tree = value<Tree>(ctx, stageId('extract', c.name));
    const patches = b.plan.patches.filter((p) => p.component === c.name);
    const patchSetDirs: Record<string, string> = {};
    for (const s of b.plan.patchSets.filter((x) => x.component === c.name)) {
      const dir = path.join(tree.ws, '.patchsets', s.name);
      mkdirSync(dir, { recursive: true });
      await extractArchive(tree.fetched.patchSets[s.name]!, dir, s.artifact.topdir, { signal: ctx.signal });
      patchSetDirs[s.name] = dir;
    }
    await applyPatches({ srcDir: tree.src, patches, patchSetDirs, log: ctx.log, signal: ctx.signal }, c.name);
    if (patches.length) ctx.update(`${patches.length} patches applied`);
    return tree;
  },
});
