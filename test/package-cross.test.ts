// The packages of a cross build (plan target aarch64-linux-gnu on this amd64 host) name the
// target, not the build host: the .deb's Architecture and file name (arm64), Depends from
// dpkg-shlibdeps against the arm64 libc, the binaries stripped and split by the target's binutils
// (the host's strip does not recognise an AArch64 file), the dbgsym too; the .rpm for aarch64
// (rpmbuild --target, ExclusiveArch); the SBOM and provenance naming the target. On a small real
// AArch64 ELF made here with the cross compiler (crossbuild-essential-arm64), not a real build.
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFromFlags } from '../src/flags/plan.ts';
import { buildDebs, debFields } from '../src/package/deb.ts';
import { buildRpm, rpmSpec } from '../src/package/rpm.ts';
import { cyclonedx } from '../src/sbom.ts';
import { provenanceStatement } from '../src/provenance.ts';

const work = mkdtempSync(path.join(tmpdir(), 'nf-cross-pkg-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const log = path.join(work, 'log');
const plan = planFromFlags({ profile: 'ktls', target: 'aarch64-linux-gnu' });
const root = path.join(work, 'root');
const twin = path.join(work, 'twin/nginx-debug');
const licensesDir = path.join(work, 'licenses');

const sections = async (f: string) => (await execa('readelf', ['-S', '-W', f])).stdout;

beforeAll(async () => {
  // an AArch64 "nginx" with debug information and a build-id, linked against the arm64 libc
  const src = path.join(work, 'nginx.c');
  writeFileSync(src, '#include <stdio.h>\nint main(void) { puts("nginx"); return 0; }\n');
  mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
  mkdirSync(path.dirname(twin), { recursive: true });
  mkdirSync(licensesDir);
  await execa('aarch64-linux-gnu-gcc', ['-g', '-O1', '-Wl,--build-id=sha1', '-o', path.join(root, 'usr/sbin/nginx'), src]);
  await execa('aarch64-linux-gnu-gcc', ['-g', '-O0', '-Wl,--build-id=sha1', '-o', twin, src]);
});

describe('packages of a cross build for aarch64-linux-gnu', () => {
  it('the .debs are arm64: control Architecture, file names, Depends from the arm64 libc; stripped by the target\'s strip', async () => {
    expect(plan.cross).toBe(true);
    const out = path.join(work, 'deb');
    const r = await buildDebs({ plan, root, licensesDir, outDir: out, log, variants: { 'nginx-debug': twin }, distro: null, maintainer: 'A <a@b.invalid>' });
    expect(path.basename(r.deb)).toBe('nginx-forge-ktls_1.26.3-1_arm64.deb');
    expect(r.twins.map((f) => path.basename(f))).toEqual(['nginx-forge-ktls-debug_1.26.3-1_arm64.deb']);
    expect(r.dbgsym.map((f) => path.basename(f)).sort()).toEqual(['nginx-forge-ktls-dbgsym_1.26.3-1_arm64.deb', 'nginx-forge-ktls-debug-dbgsym_1.26.3-1_arm64.deb']);
    for (const deb of [r.deb, ...r.twins, ...r.dbgsym]) expect((await debFields(deb, log)).Architecture, deb).toBe('arm64');
    // dpkg-shlibdeps read the AArch64 binary against the arm64 libc (not the static fallback list)
    expect((await debFields(r.deb, log)).Depends).toMatch(/^libc6 \(>= 2\.\d+\), adduser$/);
    // the shipped binary: AArch64, debug information gone (the target's strip), symbols kept
    const x = path.join(work, 'deb-x');
    await execa('dpkg-deb', ['-x', r.deb, x]);
    const bin = path.join(x, 'usr/sbin/nginx');
    expect((await execa('readelf', ['-h', bin])).stdout).toMatch(/Machine:\s+AArch64/);
    expect(await sections(bin)).not.toContain('.debug_info');
    expect(await sections(bin)).toContain('.symtab');
    // its symbols in the dbgsym, split by the target's objcopy
    const dx = path.join(work, 'dbgsym-x');
    await execa('dpkg-deb', ['-x', r.dbgsym.find((f) => f.includes('ktls-dbgsym'))!, dx]);
    const debug = (await execa('find', [path.join(dx, 'usr/lib/debug/.build-id'), '-name', '*.debug'])).stdout.split('\n');
    expect(debug).toHaveLength(1);
    expect(await sections(debug[0]!)).toContain('.debug_info');
  });

  it('the .rpms are aarch64: rpmbuild --target, ExclusiveArch, file names, debuginfo', async () => {
    expect(rpmSpec({ plan, pkg: 'nginx-forge-ktls', release: 1, who: 'A <a@b.invalid>', epoch: 0, files: [], treeDir: '/t' })).toMatch(/^ExclusiveArch:\s+aarch64$/m);
    const r = await buildRpm({ plan, root, licensesDir, outDir: path.join(work, 'rpm'), log, variants: { 'nginx-debug': twin }, maintainer: 'A <a@b.invalid>' });
    expect(path.basename(r.rpm)).toMatch(/^nginx-forge-ktls-1\.26\.3-1(\.\w+)?\.aarch64\.rpm$/);
    for (const f of [r.rpm, ...r.twins, r.debuginfo!]) {
      expect(f).toMatch(/\.aarch64\.rpm$/);
      expect((await execa('rpm', ['-qp', '--qf', '%{ARCH}', f])).stdout, f).toBe('aarch64');
    }
    // the debuginfo file name carries the target's arch (Fedora's <path>-<v>-<r>.<arch>.debug)
    expect((await execa('rpm', ['-qlp', r.debuginfo!])).stdout).toMatch(/\/usr\/lib\/debug\/usr\/sbin\/nginx-1\.26\.3-1(\.\w+)?\.aarch64\.debug/);
  });

  it('the SBOM and the provenance name the target', () => {
    const sbom = cyclonedx({ plan, artifactFiles: {}, epoch: 0, binarySha: '0'.repeat(64) }) as { metadata: { component: { properties: { name: string; value: string }[] } } };
    expect(sbom.metadata.component.properties).toEqual([
      { name: 'nginx-forge:target:triple', value: 'aarch64-linux-gnu' },
      { name: 'nginx-forge:target:cpu', value: 'aarch64' },
    ]);
    const st = provenanceStatement({ plan, output: 'deb', subjects: [], builder: { id: 'x', version: {} } }) as unknown as { predicate: { buildDefinition: { internalParameters: { target: unknown } } } };
    expect(st.predicate.buildDefinition.internalParameters.target).toEqual({ triple: 'aarch64-linux-gnu', cpu: 'aarch64', debArch: 'arm64', rpmArch: 'aarch64' });
  });
});
