// A state directory whose stage cache already holds what `package` (and `build --until artifacts`)
// need: the install trees of nginx and its twins and the artifacts entry, under the very keys the
// CLI computes on this machine (same recipes, same toolchain, same code). So a child-process test
// of `nginx-forge package` runs the real command with nothing to build: it goes straight to the
// packaging, where a fake dpkg-deb on PATH can be made slow, or a --out full.
// The files are small stand-ins (the "binary" is text): a fake `strip` on PATH accepts them.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StageCache } from '../../src/cache/index.ts';
import { planFromFlags } from '../../src/flags/plan.ts';
import { installTargets } from '../../src/pipeline/index.ts';
import type { BuildPlan } from '../../src/plan.ts';

export const ARTIFACT_FILES = ['nginx-forge-ktls.tar.gz', 'manifest.json', 'sbom.cdx.json', 'SHA256SUMS'];

/** Seed <state>/stages with the install and artifacts entries of a profile's plan. */
export async function seedCachedBuild(state: string, profile = 'ktls'): Promise<BuildPlan> {
  const home = process.env.NGINX_FORGE_HOME;
  process.env.NGINX_FORGE_HOME = state;
  try {
    const plan = planFromFlags({ profile });
    const cache = new StageCache(path.join(state, 'stages'));
    const key = (id: string) => plan.stages.find((s) => s.id === id)!.key;
    for (const id of installTargets(plan)) {
      const variant = plan.variants.find((v) => id === `install:${v.name}`);
      await cache.produce(id, key(id), async (tmp) => {
        const bin = path.join(tmp, 'root', variant ? variant.sbin : plan.install.sbin);
        mkdirSync(path.dirname(bin), { recursive: true });
        writeFileSync(bin, `not really nginx (${id})\n`);
        chmodSync(bin, 0o755);
        mkdirSync(path.join(tmp, 'root', plan.install.confDir.replace(/^\/+/, '')), { recursive: true });
        mkdirSync(path.join(tmp, 'licenses'), { recursive: true });
      });
    }
    await cache.produce('artifacts', key('artifacts'), async (tmp) => {
      const out = path.join(tmp, 'out');
      mkdirSync(out, { recursive: true });
      for (const f of ARTIFACT_FILES.slice(0, -1)) writeFileSync(path.join(out, f), f === 'manifest.json' ? '{"sourceDateEpoch": 1700000000}\n' : `${f}\n`);
      // the entry's own SHA256SUMS lists only its files (what the artifacts stage writes)
      writeFileSync(path.join(out, 'SHA256SUMS'), `${'0'.repeat(64)}  nginx-forge-ktls.tar.gz\n`);
      return { files: ARTIFACT_FILES };
    });
    return plan;
  } finally {
    if (home === undefined) delete process.env.NGINX_FORGE_HOME;
    else process.env.NGINX_FORGE_HOME = home;
  }
}

/**
 * A directory of fake tools for PATH: `strip` that accepts anything, `readelf` that reports one
 * build-id and `objcopy` that writes an empty debug file (the packages' debug-symbol split, for the
 * text stand-ins), and the given scripts.
 */
export function fakeTools(dir: string, scripts: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  const fakes = {
    strip: 'exit 0',
    readelf: 'echo "    Build ID: 0123456789abcdef0123456789abcdef01234567"',
    objcopy: 'for a; do out=$a; done; : > "$out"',
  };
  for (const [name, body] of Object.entries({ ...fakes, ...scripts })) {
    writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(dir, name), 0o755);
  }
  return dir;
}
