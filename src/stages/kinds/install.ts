// install:<binary>: nginx's make install into the entry's DESTDIR tree (a twin's binary renamed
// beside the production one's path), with the licenses of every component linked into it.
import { cpSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { modules, server, stageId } from '../../plan.ts';
import { install } from '../nginx.ts';
import { binaryIn, binaryName, copyLicenses, value, variantOf, type Implement, type NginxTree, type SourceMeta } from './common.ts';

export const implement: Implement = (b) => ({
  async run(ctx): Promise<SourceMeta> {
    const plan = b.plan;
    const nginx = server(plan);
    const variant = variantOf(plan, ctx.stage);
    const t = value<NginxTree>(ctx, stageId('compile', binaryName(plan, variant)));
    const root = path.join(ctx.out, 'root');
    await install({ ws: t.ws, src: t.src, env: t.env, jobs: [], log: () => ctx.log, signal: ctx.signal }, root);
    // a twin goes beside the production binary under its own name (nginx-debug)
    if (variant) renameSync(binaryIn(root, plan), binaryIn(root, plan, variant));
    const lic = path.join(ctx.out, 'licenses');
    copyLicenses(nginx, t.src, path.join(lic, nginx.name));
    const artifacts: SourceMeta['artifacts'] = { [nginx.name]: { file: t.fetched.artifact.file, sha256: t.fetched.artifact.sha256 } };
    for (const m of modules(plan)) {
      copyLicenses(m, path.join(t.ws, m.layout!), path.join(lic, m.name));
      artifacts[m.name] = t.mods[m.name]!;
    }
    for (const [name, dir] of Object.entries(t.libs)) {
      cpSync(path.join(dir, 'licenses', name), path.join(lic, name), { recursive: true });
      Object.assign(artifacts, (JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as SourceMeta).artifacts);
    }
    rmSync(t.ws, { recursive: true, force: true });
    return { epoch: t.epoch, artifacts };
  },
});
