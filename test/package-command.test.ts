// `nginx-forge package`: the command's wiring. The build is replaced by a stand-in summary here
// (the real build is exercised by the build tests).
// TODO(integrator): add an e2e case with the real build once test/helpers/builtNginx.ts exists:
//   const s = await builtSummary('ktls'); then `nginx-forge package --format deb` must reuse the
//   cached stages (every stage "cached") and produce the same .deb as buildDeb on s.root.
import { execa } from 'execa';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { BuildOptions, BuildSummary } from '../src/build/types.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const HB = '/tmp/handbuild';
const work = mkdtempSync(path.join(tmpdir(), 'nf-pkgcmd-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const calls: BuildOptions[] = [];
vi.mock('../src/build/index.ts', () => ({
  runBuild: async (plan: { profile: string; planHash: string }, opts: BuildOptions): Promise<BuildSummary> => {
    calls.push(opts);
    const base = path.join(work, 'build');
    const root = path.join(base, 'root');
    mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
    cpSync(`${HB}/inst/sbin/nginx`, path.join(root, 'usr/sbin/nginx'));
    cpSync(`${HB}/nginx-1.26.3/conf`, path.join(root, 'etc/nginx'), { recursive: true });
    mkdirSync(path.join(base, 'licenses/nginx'), { recursive: true });
    cpSync(`${HB}/nginx-1.26.3/LICENSE`, path.join(base, 'licenses/nginx/LICENSE'));
    const out = opts.out!;
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'manifest.json'), `${JSON.stringify({ sourceDateEpoch: 1767225600 })}\n`);
    writeFileSync(path.join(out, 'sbom.cdx.json'), '{}\n');
    writeFileSync(path.join(out, 'SHA256SUMS'), `${'a'.repeat(64)}  nginx-1.26.3-ktls-linux-x86_64.tar.gz\n`);
    return {
      profile: plan.profile,
      planHash: plan.planHash,
      binary: path.join(root, 'usr/sbin/nginx'),
      root,
      licensesDir: path.join(base, 'licenses'),
      artifacts: [path.join(out, 'manifest.json'), path.join(out, 'sbom.cdx.json'), path.join(out, 'SHA256SUMS')],
      manifest: path.join(out, 'manifest.json'),
      sbom: path.join(out, 'sbom.cdx.json'),
      stages: [],
      seconds: 0,
    };
  },
}));

describe.skipIf(!existsSync(`${HB}/inst/sbin/nginx`))('package --format deb', () => {
  it('builds up to the package stage (no smoke test), wraps the install tree, joins SHA256SUMS', async () => {
    const { run } = await import('../src/commands/package.ts');
    const out = path.join(work, 'dist');
    let printed = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      printed += String(s);
      return true;
    });
    try {
      expect(await run({ format: 'deb', profile: 'ktls', out, json: true })).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ until: 'package', smoke: false, out });
    const j = JSON.parse(printed);
    expect(path.basename(j.deb)).toMatch(/^nginx-forge-ktls_1\.26\.3-1_.+\.deb$/);
    expect(existsSync(j.deb)).toBe(true);
    const sums = readFileSync(path.join(out, 'SHA256SUMS'), 'utf8');
    expect(sums).toContain(`${'a'.repeat(64)}  nginx-1.26.3-ktls-linux-x86_64.tar.gz`);
    expect(sums).toMatch(new RegExp(`^[0-9a-f]{64}  ${path.basename(j.deb).replace(/[.+]/g, '\\$&')}$`, 'm'));
    const files = (await execa('dpkg-deb', ['-c', j.deb])).stdout;
    expect(files).toContain('./usr/share/doc/nginx-forge-ktls/sbom.cdx.json');
  }, 120_000);
});

describe('package --format freebsd-port', () => {
  it('writes the port from the plan alone (no build), JSON for scripts', async () => {
    const out = path.join(work, 'port-out');
    const r = await execa(process.execPath, [path.join(ROOT, 'bin/nginx-forge.mjs'), 'package', '--format', 'freebsd-port', '--profile', 'userspace', '--out', out, '--distdir', path.join(work, 'empty-store'), '--json'], { cwd: ROOT });
    const j = JSON.parse(r.stdout);
    expect(j.dir).toBe(path.join(out, 'freebsd-port', 'nginx-forge-userspace'));
    for (const f of ['Makefile', 'distinfo', 'pkg-plist', 'pkg-descr', 'files/nginx.in', 'files/pkg-message.in']) {
      expect(existsSync(path.join(j.dir, f)), f).toBe(true);
    }
    expect(readFileSync(path.join(j.dir, 'Makefile'), 'utf8')).toContain('PKGNAMESUFFIX=\t-forge-userspace');
    expect(j.warnings.join('\n')).toContain('SIZE of zlib-ng-2.2.4.tar.gz is unknown');
  }, 60_000);
});
