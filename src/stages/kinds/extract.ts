// extract:<component>: the fetched archive unpacked (validated member by member) into the
// component's scratch workspace.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { stageId } from '../../plan.ts';
import { extractArchive } from '../../archive/extract.ts';
import { componentOf, value, type Fetched, type Implement, type Tree } from './common.ts';

export const implement: Implement = (b) => ({
  async run(ctx): Promise<Tree> {
    const c = componentOf(b, ctx);
    const fetched = value<Fetched>(ctx, stageId('fetch', c.name));
    const ws = path.join(b.work, c.name);
    rmSync(ws, { recursive: true, force: true });
    mkdirSync(ws, { recursive: true });
    const src = await extractArchive(fetched.path, ws, c.topdir, { signal: ctx.signal });
    return { ws, src, fetched };
  },
});
