// The SBOM written by the package stage, checked against the official CycloneDX 1.5 JSON schema
// (the strict variant: no unknown fields) with @cyclonedx/cyclonedx-library's validator, and for
// what a scanner needs: CPEs, purls, patches with hashes, resolved CVEs.
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import { describe, expect, it } from 'vitest';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { cyclonedx, debianSourceOf } from '../src/sbom.ts';
import { manifest } from '../src/stages/artifacts.ts';

const plan = resolvePlan(loadRecipes(), 'ktls');
const chosen = (name: string, i = 0) => {
  const c = plan.components.find((x) => x.name === name)!;
  const a = c.artifacts[i]!;
  return { file: a.file, sha256: a.sha256 };
};
// what the build on these machines uses: zlib-ng's Debian repack (the upstream tag archive is unreachable)
const artifactFiles = {
  nginx: chosen('nginx'),
  openssl: chosen('openssl'),
  pcre2: chosen('pcre2'),
  'zlib-ng': chosen('zlib-ng', 1),
  jemalloc: chosen('jemalloc'),
};
const binarySha = 'b'.repeat(64);
const bom = cyclonedx({ plan, artifactFiles, epoch: 1_700_000_000, binarySha }) as any;

async function validate(doc: unknown): Promise<unknown> {
  const v = new Validation.JsonStrictValidator(Spec.Version.v1dot5);
  return v.validate(JSON.stringify(doc));
}

describe('CycloneDX SBOM', () => {
  it('validates against the official CycloneDX 1.5 JSON schema (strict)', async () => {
    expect(await validate(bom)).toBeNull();
  });

  it('the validator really rejects a broken SBOM (an unknown analysis state)', async () => {
    const broken = structuredClone(bom);
    broken.vulnerabilities[0].analysis.state = 'fixed';
    expect(await validate(broken)).not.toBeNull();
  });

  it('names every component by CPE and by a purl of a real package type', () => {
    const byName = Object.fromEntries(bom.components.filter((c: any) => c.type === 'library').map((c: any) => [c.name, c]));
    expect(byName.nginx.cpe).toBe('cpe:2.3:a:f5:nginx:1.26.3:*:*:*:*:*:*:*');
    expect(byName.openssl.cpe).toBe('cpe:2.3:a:openssl:openssl:3.5.7:*:*:*:*:*:*:*');
    expect(byName.pcre2.cpe).toBe('cpe:2.3:a:pcre:pcre2:10.48:*:*:*:*:*:*:*');
    expect(byName.nginx.purl).toBe('pkg:github/nginx/nginx@release-1.26.3');
    expect(byName.openssl.purl).toBe('pkg:github/openssl/openssl@openssl-3.5.7');
    expect(byName.pcre2.purl).toBe('pkg:github/pcre2project/pcre2@pcre2-10.48');
    expect(byName.jemalloc.purl).toBe('pkg:github/jemalloc/jemalloc@5.3.1');
    for (const c of Object.values(byName) as any[]) expect(PackageURL.fromString(c.purl).toString()).toBe(c.purl);
  });

  it("a component's version and hash describe the same bytes: zlib-ng's repack is not called the upstream release", () => {
    const z = bom.components.find((c: any) => c.name === 'zlib-ng');
    expect(z.hashes[0].content).toBe(artifactFiles['zlib-ng'].sha256);
    expect(z.version).toBe('2.2.4-dfsg');
    expect(z.purl).toBe(`pkg:generic/zlib-ng@2.2.4-dfsg?checksum=sha256%3A${artifactFiles['zlib-ng'].sha256}`);
    // the upstream release it was made from, with the upstream archive's own hash
    expect(z.pedigree.ancestors[0]).toMatchObject({ name: 'zlib-ng', version: '2.2.4', purl: 'pkg:github/zlib-ng/zlib-ng@2.2.4' });
    expect(z.pedigree.ancestors[0].hashes[0].content).toBe(chosen('zlib-ng', 0).sha256);
    expect(z.cpe).toBe('cpe:2.3:a:zlib-ng:zlib-ng:2.2.4:*:*:*:*:*:*:*');
    // with the upstream archive, the upstream identity
    const up = cyclonedx({ plan, artifactFiles: { ...artifactFiles, 'zlib-ng': chosen('zlib-ng', 0) }, epoch: 1, binarySha }) as any;
    const z2 = up.components.find((c: any) => c.name === 'zlib-ng');
    expect([z2.version, z2.purl, z2.hashes[0].content]).toEqual(['2.2.4', 'pkg:github/zlib-ng/zlib-ng@2.2.4', chosen('zlib-ng', 0).sha256]);
    expect(z2.pedigree).toBeUndefined();
  });

  it('lists the patch-set archives and every applied patch with its hash; pedigree links each patch and what it resolves', () => {
    const sets = bom.components.filter((c: any) => c.type === 'file' && c['bom-ref'].startsWith('patchset:'));
    expect(sets.map((s: any) => [s.name, s.purl, s.hashes[0].content])).toEqual([
      ['nginx_1.26.3-3+deb13u9.debian.tar.xz', 'pkg:deb/debian/nginx@1.26.3-3+deb13u9?arch=source', '860b84ea2e0b394ef2124ce118f9479eea7e63d9a6c6991e5b965e7c21a4a407'],
      ['openssl_3.5.7-1~deb13u2.debian.tar.xz', 'pkg:deb/debian/openssl@3.5.7-1~deb13u2?arch=source', '593a47654ead460a3b609503733f80bef552ff0802799d3b47784faacc50809f'],
    ]);
    const files = sets.flatMap((s: any) => s.components);
    const fromSets = plan.patches.filter((p) => p.origin.kind === 'patchset');
    expect(files).toHaveLength(fromSets.length);
    for (const p of fromSets) {
      const f = files.find((x: any) => x.name === p.id);
      expect(f.hashes[0].content).toBe(p.sha256);
    }
    // the project's own patches are file components of their own, with their hash
    const local = plan.patches.filter((p) => p.origin.kind === 'local');
    expect(local.map((p) => p.id)).toContain('patches/nginx/1.26.3/0001-upstream-cache-control-delta-seconds-overflow.patch');
    for (const p of local) expect(bom.components.find((c: any) => c.type === 'file' && c.name === p.id).hashes[0].content).toBe(p.sha256);
    const nginx = bom.components.find((c: any) => c.name === 'nginx');
    // 21 from Debian's series (backports) and the project's own (unofficial)
    expect(nginx.pedigree.patches).toHaveLength(21 + local.filter((p) => p.component === 'nginx').length);
    expect(nginx.pedigree.patches.filter((x: any) => x.type === 'backport')).toHaveLength(21);
    const h2 = nginx.pedigree.patches.find((x: any) => x.diff.url.endsWith(encodeURIComponent('patch:nginx-debian-security/Upstream-limit-header-length-for-HTTP-2-and-gRPC.patch')));
    expect(h2.resolves).toEqual([{ type: 'security', id: 'CVE-2026-42055', source: { name: 'NVD', url: 'https://nvd.nist.gov/vuln/detail/CVE-2026-42055' } }]);
    // the diff url is a BOM-Link to the patch's file component in this very SBOM
    expect(h2.diff.url).toBe(`${bom.serialNumber.replace('urn:uuid:', 'urn:cdx:')}/1#${encodeURIComponent('patch:nginx-debian-security/Upstream-limit-header-length-for-HTTP-2-and-gRPC.patch')}`);
    expect(bom.components.find((c: any) => c.name === 'openssl').pedigree.patches).toHaveLength(16);
  });

  it('marks every CVE resolved by an applied patch as resolved, with the patch as the detail', () => {
    const ids = bom.vulnerabilities.map((v: any) => v.id);
    const fromPlan = [...new Set(plan.patches.flatMap((p) => p.cves))];
    expect([...ids].sort()).toEqual([...fromPlan].sort());
    expect(ids).toEqual(expect.arrayContaining(['CVE-2026-42055', 'CVE-2026-48142', 'CVE-2026-56434', 'CVE-2026-75803', 'CVE-2026-63075']));
    const v = bom.vulnerabilities.find((x: any) => x.id === 'CVE-2026-48142');
    expect(v.analysis.state).toBe('resolved');
    expect(v.analysis.detail).toContain('nginx-debian-security/Charset-fixed-another-rare-buffer-overread-in-recode.patch (sha256 d52d670307a4413c');
    expect(v.affects).toEqual([{ ref: 'component:nginx', versions: [{ version: '1.26.3', status: 'unaffected' }] }]);
    // CVE-2026-42946 is fixed by two patches: both are named
    expect(bom.vulnerabilities.find((x: any) => x.id === 'CVE-2026-42946').analysis.detail).toMatch(/42946\.1\.patch.*42946\.2\.patch/);
    // resolved, except the CVEs whose code this build leaves out (test/vex.test.ts): not_affected, code_not_present
    const trimmed = ['CVE-2026-14456', 'CVE-2026-18798', 'CVE-2026-63072', 'CVE-2026-63073', 'CVE-2026-63074', 'CVE-2026-63075', 'CVE-2026-63076'];
    for (const x of bom.vulnerabilities) expect([x.id, x.analysis.state]).toEqual([x.id, trimmed.includes(x.id) ? 'not_affected' : 'resolved']);
    const quic = bom.vulnerabilities.find((x: any) => x.id === 'CVE-2026-18798').analysis;
    expect(quic.justification).toBe('code_not_present');
    expect(quic.detail).toMatch(/ssl\/quic\/quic_port\.c.*no-quic.*Resolved in this build by openssl-debian-security\/Avoid-double-free/);
  });

  it('names the GitHub-hosted modules by pkg:github purls of their tags (not pkg:generic), and validates with them', async () => {
    const purls: Record<string, string> = {};
    for (const profile of ['ktls-brotli', 'ktls-geoip2']) {
      const p = resolvePlan(loadRecipes(), profile);
      const b = cyclonedx({ plan: p, artifactFiles: {}, epoch: 1, binarySha }) as any;
      expect(await validate(b)).toBeNull();
      for (const c of b.components.filter((x: any) => x.type === 'library')) {
        purls[c.name] = c.purl;
        expect(c.purl.startsWith('pkg:generic/'), `${c.name}: ${c.purl}`).toBe(false);
      }
      for (const m of p.components.filter((c) => c.module)) expect(b.components.find((c: any) => c.name === m.name).cpe).toBeUndefined();
    }
    // Debian's 1.0.0~rc is upstream's tag v1.0.0rc (the recipe's version tag)
    expect(purls['ngx-brotli']).toBe('pkg:github/google/ngx_brotli@v1.0.0rc');
    expect(purls['ngx-echo']).toBe('pkg:github/openresty/echo-nginx-module@v0.63');
    expect(purls['ngx-geoip2']).toBe('pkg:github/leev/ngx_http_geoip2_module@3.4');
    expect(purls.brotli).toBe('pkg:github/google/brotli@v1.2.0');
    expect(purls.libmaxminddb).toMatch(/^pkg:github\/maxmind\/libmaxminddb@/);
  });

  it('names its supplier, and its timestamp is SOURCE_DATE_EPOCH', () => {
    expect(bom.metadata.supplier).toEqual({ name: 'nginx-forge contributors' });
    expect(bom.metadata.timestamp).toBe('2023-11-14T22:13:20.000Z');
  });

  it('records every configure switch of each library as properties, in command-line order', () => {
    const openssl = bom.components.find((c: any) => c.name === 'openssl');
    const switches = openssl.properties.filter((p: any) => p.name === 'nginx-forge:configure:switch').map((p: any) => p.value);
    const recipe = plan.components.find((c) => c.name === 'openssl')!;
    expect(switches).toEqual([...recipe.build!.args, ...recipe.build!.trim, ...recipe.options]);
    expect(switches).toEqual(expect.arrayContaining(['no-quic', 'no-dtls', 'no-cms', 'no-cmp', 'enable-ktls', 'no-makedepend']));
  });

  it('is deterministic for a plan', () => {
    const again = cyclonedx({ plan, artifactFiles, epoch: 1_700_000_000, binarySha });
    expect(JSON.stringify(again)).toBe(JSON.stringify(bom));
  });

  it('the manifest carries the CVEs per patch and the list of resolved CVEs', () => {
    const m = manifest({ plan, root: '/x', licensesDir: '/x', artifactFiles, epoch: 1, out: '/x' }, binarySha);
    expect(m.resolvedCves).toEqual(expect.arrayContaining(['CVE-2026-42055', 'CVE-2026-48142', 'CVE-2026-18798']));
    expect(m.patches.find((p) => p.id.endsWith('/Fix-unbounded-cert-cache-growth-in-cmp.patch'))!.cves).toEqual(['CVE-2026-63074']);
    expect(m.components.find((c) => c.name === 'zlib-ng')!.source).toEqual({ ...artifactFiles['zlib-ng'], version: '2.2.4-dfsg' });
  });

  it('reads a Debian patch-set file name', () => {
    expect(debianSourceOf('openssl_3.5.7-1~deb13u2.debian.tar.xz')).toEqual({ source: 'openssl', version: '3.5.7-1~deb13u2' });
    expect(debianSourceOf('nginx-1.26.3.tar.gz')).toBeUndefined();
  });
});
