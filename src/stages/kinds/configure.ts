// configure:<binary>: nginx's ./configure for one binary (production or a twin), in its own copy
// of the patched tree, with the libraries configure reads and the modules' trees placed beside it.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { compileEnv, makeJobs } from '../../pipeline/env.ts';
import { librariesFor, modules, server, stageId, variantView } from '../../plan.ts';
import { configure, placeLibraries } from '../nginx.ts';
import { binaryName, epochOf, value, variantOf, type Implement, type NginxTree, type Tree } from './common.ts';

export const implement: Implement = (b) => ({
  async run(ctx): Promise<NginxTree> {
    const plan = b.plan;
    const nginx = server(plan);
    const patched = value<Tree>(ctx, stageId('patch', nginx.name));
    // each binary (production, twins) configures and compiles in its own copy of the patched
    // tree: the shared one stays pristine while both builds run side by side
    const variant = variantOf(plan, ctx.stage);
    const ws = path.join(b.work, 'build', binaryName(plan, variant));
    rmSync(ws, { recursive: true, force: true });
    const tree: Tree = { ...patched, ws, src: path.join(ws, path.relative(patched.ws, patched.src)) };
    cpSync(patched.src, tree.src, { recursive: true, preserveTimestamps: true });
    const libs = Object.fromEntries(librariesFor(plan, 'configure').map((l) => [l.name, ctx.input(stageId('library', l.name)).dir!]));
    const epoch = epochOf(nginx, tree.src);
    const env = compileEnv(tree.ws, epoch, b.ccache);
    placeLibraries(plan, tree.ws, libs, 'configure');
    // modules: the patched source tree goes where the plan's layout says, beside nginx's
    const mods: NginxTree['mods'] = {};
    for (const m of modules(plan)) {
      const t = value<Tree>(ctx, stageId('patch', m.name));
      const dest = path.join(tree.ws, m.layout!);
      rmSync(dest, { recursive: true, force: true });
      mkdirSync(path.dirname(dest), { recursive: true });
      cpSync(t.src, dest, { recursive: true, preserveTimestamps: true });
      mods[m.name] = { file: t.fetched.artifact.file, sha256: t.fetched.artifact.sha256 };
    }
    const jobs = b.jobserver ? [] : makeJobs(b.jobs);
    await configure(variantView(plan, variant), { ws: tree.ws, src: tree.src, env, jobs, log: () => ctx.log, signal: ctx.signal });
    return { ...tree, env, libs, mods, epoch };
  },
});
