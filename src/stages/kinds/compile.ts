// compile:<binary>: nginx's make for one configured tree, with the libraries only make reads (an
// in-tree OpenSSL) placed first.
import { makeJobs } from '../../pipeline/env.ts';
import { librariesFor, stageId } from '../../plan.ts';
import { compile, placeLibraries } from '../nginx.ts';
import { binaryName, value, variantOf, type Implement, type NginxTree } from './common.ts';

export const implement: Implement = (b) => ({
  async run(ctx): Promise<NginxTree> {
    const plan = b.plan;
    const configured = value<NginxTree>(ctx, stageId('configure', binaryName(plan, variantOf(plan, ctx.stage))));
    // the libraries only nginx's make reads (an in-tree OpenSSL) were built beside configure
    const late = Object.fromEntries(librariesFor(plan, 'make').map((l) => [l.name, ctx.input(stageId('library', l.name)).dir!]));
    placeLibraries(plan, configured.ws, late, 'make');
    const t: NginxTree = { ...configured, libs: { ...configured.libs, ...late } };
    const jobs = b.jobserver ? [] : makeJobs(b.jobs);
    await compile({ ws: t.ws, src: t.src, env: t.env, jobs, jobserver: b.jobserver, log: () => ctx.log, signal: ctx.signal });
    return t;
  },
});
