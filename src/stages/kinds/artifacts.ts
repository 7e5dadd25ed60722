// artifacts: the tarball, its debug symbols (<tarball>-debug.tar.gz), manifest.json, the CycloneDX SBOM and SHA256SUMS, from the production
// install tree (twins' binaries added beside it) and the verified result.
import path from 'node:path';
import { server, stageId } from '../../plan.ts';
import { writeArtifacts } from '../artifacts.ts';
import { binaryIn, installRoot, type Implement, type SourceMeta } from './common.ts';

export const implement: Implement = (b) => ({
  async run(ctx) {
    const plan = b.plan;
    const inst = ctx.input(stageId('install', server(plan).name));
    const meta = inst.meta as unknown as SourceMeta;
    const variantBinaries = Object.fromEntries(plan.variants.map((v) => [v.name, binaryIn(installRoot(ctx, stageId('install', v.name)), plan, v)]));
    const files = await writeArtifacts({ plan, root: path.join(inst.dir!, 'root'), licensesDir: path.join(inst.dir!, 'licenses'), artifactFiles: meta.artifacts, epoch: meta.epoch, out: path.join(ctx.out, 'out'), variantBinaries, log: ctx.log, signal: ctx.signal });
    return { files: files.map((f) => path.basename(f)) };
  },
});
