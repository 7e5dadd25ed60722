// library:<component>: a library built from its patched tree into a cache entry (headers,
// static archives, licenses), by the recipe's build system.
import path from 'node:path';
import { rmSync } from 'node:fs';
import { compileEnv, makeJobs } from '../../pipeline/env.ts';
import { stageId } from '../../plan.ts';
import { buildLibrary } from '../library.ts';
import { componentOf, copyLicenses, epochOf, value, type Implement, type SourceMeta, type Tree } from './common.ts';

export const implement: Implement = (b) => ({
  async run(ctx): Promise<SourceMeta> {
    const c = componentOf(b, ctx);
    const tree = value<Tree>(ctx, stageId('patch', c.name));
    const epoch = epochOf(c, tree.src);
    await buildLibrary({
      component: c,
      srcDir: tree.src,
      out: ctx.out,
      jobs: b.jobserver ? [] : makeJobs(b.jobs),
      jobserver: b.jobserver,
      env: compileEnv(tree.ws, epoch, b.ccache, 'lines'),
      log: ctx.log,
      signal: ctx.signal,
      onStep: (s) => ctx.update(s),
      hardening: b.plan.hardening.cflags,
      target: b.plan.cross ? b.plan.target : undefined,
    });
    copyLicenses(c, tree.src, path.join(ctx.out, 'licenses', c.name), 'library');
    rmSync(tree.ws, { recursive: true, force: true });
    return { epoch, artifacts: { [c.name]: { file: tree.fetched.artifact.file, sha256: tree.fetched.artifact.sha256 } } };
  },
});
