// "The server component" is the plan's component with role "server" (recipe data), not the name
// "nginx": a catalog whose server component is called otherwise still gets its tarball, manifest,
// SBOM, package versions and FreeBSD port from that component.
import { renameSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { server } from '../src/plan.ts';
import { artifactBase, manifest } from '../src/stages/artifacts.ts';
import { cyclonedx } from '../src/sbom.ts';
import { debVersion } from '../src/package/deb.ts';
import { rpmSpec } from '../src/package/rpm.ts';
import { freebsdPort } from '../src/package/freebsd/index.ts';
import { copyRecipes, editJson } from './helpers/recipes.ts';

const NAME = 'nginx-fork';

/** The built-in catalog with the server component renamed (its recipe file, name and every profile's pin). */
function renamedCatalog() {
  const dir = copyRecipes('nf-server-');
  const from = path.join(dir, 'components', 'nginx.json');
  const to = path.join(dir, 'components', `${NAME}.json`);
  renameSync(from, to);
  editJson(to, (j) => (j.name = NAME));
  editJson(path.join(dir, 'profiles', 'ktls.json'), (j) => {
    j.components = Object.fromEntries(Object.entries(j.components).map(([k, v]) => [k === 'nginx' ? NAME : k, v]));
  });
  return loadRecipes(dir);
}

describe('the server component comes from the plan', () => {
  const plan = resolvePlan(renamedCatalog(), 'ktls', { toolchain: { cc: 'gcc 12' } });
  const s = server(plan);

  it('is the component with role "server"', () => {
    expect(s.name).toBe(NAME);
    expect(s.role).toBe('server');
  });

  it('names the tarball, the manifest and the SBOM', () => {
    expect(artifactBase(plan)).toMatch(new RegExp(`^${NAME}-${s.version}-ktls-`));
    const artifactFiles = Object.fromEntries(plan.components.map((c) => [c.name, { file: c.artifacts[0]!.file, sha256: c.artifacts[0]!.sha256 }]));
    const input = { plan, root: '/nonexistent', licensesDir: '/nonexistent', artifactFiles, epoch: 1_700_000_000, out: '/nonexistent' };
    const m = manifest(input, 'b'.repeat(64)) as { name: string; binary: { path: string } };
    expect(m.name).toBe(NAME);
    expect(m.binary.path).toBe(`sbin/${NAME}`);
    const bom = cyclonedx({ plan, artifactFiles, epoch: 1_700_000_000, binarySha: 'b'.repeat(64) }) as any;
    expect(bom.metadata.component.name).toBe(NAME);
    expect(bom.metadata.component.version).toBe(s.version);
  });

  it('gives the packages their version', async () => {
    expect(debVersion(plan, 1, null)).toBe(`${s.version}-1`);
    const spec = rpmSpec({ plan, pkg: 'nginx-forge-ktls', release: 1, who: 'A <a@b.invalid>', epoch: 1767225600, files: ['/usr/sbin/nginx'], treeDir: '/t' });
    expect(spec).toMatch(new RegExp(`^Version:\\s+${s.version.replaceAll('.', '\\.')}$`, 'm'));
    const { files } = await freebsdPort({ plan, sourceDateEpoch: 1767225600 });
    expect(files['Makefile']).toMatch(new RegExp(`^PORTNAME=\\s+${NAME}$`, 'm'));
    expect(files['Makefile']).toMatch(new RegExp(`^PORTVERSION=\\s+${s.version.replaceAll('.', '\\.')}$`, 'm'));
  });
});
