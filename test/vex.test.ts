// The OpenVEX document beside the SBOM (issue 24, item 4). No scanner that applies OpenVEX installs
// here (Grype and Trivy are not in Debian's or npm's registry, and both need a vulnerability
// database downloaded at scan time), so this checks what such a scanner relies on instead:
//   - the document against the OpenVEX 0.2.0 JSON schema (written with zod in src/vex.ts);
//   - every statement against the SBOM: its product is an SBOM component by the same purl, CPE and
//     sha256, its status the SBOM's analysis state (fixed ↔ resolved, not_affected ↔ not_affected);
//   - every not_affected claim against the artifacts alone: the switch it names is in the
//     component's configure switches as manifest.json and the SBOM record them, not undone later;
//   - the claim follows the build: a profile that turns QUIC back on (enable-quic) gets "fixed";
//   - writeArtifacts puts vex.openvex.json in --out and in its SHA256SUMS.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { switchInEffect } from '../src/cves.ts';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { cyclonedx } from '../src/sbom.ts';
import { manifest, writeArtifacts } from '../src/stages/artifacts.ts';
import { OpenVexDocument, openvex, OPENVEX_CONTEXT, VEX_FILE } from '../src/vex.ts';
import { copyRecipes, editJson } from './helpers/recipes.ts';

const plan = resolvePlan(loadRecipes(), 'ktls-brotli');
const artifactFiles = Object.fromEntries(plan.components.map((c) => [c.name, { file: c.artifacts[0]!.file, sha256: c.artifacts[0]!.sha256 }]));
const epoch = 1_740_000_000;
const vex = openvex({ plan, artifactFiles, epoch });
const bom = cyclonedx({ plan, artifactFiles, epoch, binarySha: 'b'.repeat(64) }) as any;
// the manifest of ktls (a module's .so files would be hashed): the same OpenSSL and patches
const man = manifest({ plan: resolvePlan(loadRecipes(), 'ktls'), root: '/x', licensesDir: '/x', artifactFiles, epoch, out: '/x' }, 'b'.repeat(64));

const QUIC = ['CVE-2026-14456', 'CVE-2026-18798', 'CVE-2026-63075'];
const NOT_COMPILED = [...QUIC, 'CVE-2026-63072', 'CVE-2026-63073', 'CVE-2026-63074', 'CVE-2026-63076'];

const tmps: string[] = [];
afterAll(() => {
  for (const t of tmps) rmSync(t, { recursive: true, force: true });
});

describe('OpenVEX document', () => {
  it('validates against the OpenVEX 0.2.0 schema, and the schema check rejects what the spec forbids', () => {
    expect(OpenVexDocument.safeParse(vex).error?.issues).toBeUndefined();
    expect(vex['@context']).toBe(OPENVEX_CONTEXT);
    // a not_affected statement with neither a justification nor an impact statement
    const bare = structuredClone(vex) as any;
    const na = bare.statements.find((s: any) => s.status === 'not_affected');
    delete na.justification;
    delete na.impact_statement;
    expect(OpenVexDocument.safeParse(bare).success).toBe(false);
    // a justification label the spec does not define, an unknown field, a statement without products
    for (const edit of [(d: any) => (d.statements[0].justification = 'code_not_present'), (d: any) => (d.statements[0].state = 'fixed'), (d: any) => (d.statements[0].products = [])]) {
      const broken = structuredClone(vex) as any;
      edit(broken);
      expect(OpenVexDocument.safeParse(broken).success).toBe(false);
    }
  });

  it('has one statement per CVE the patches resolve; the trimmed-out ones not_affected with their switch, the rest fixed', () => {
    const byId = new Map(vex.statements.map((s) => [s.vulnerability.name, s]));
    expect([...byId.keys()].sort()).toEqual([...man.resolvedCves].sort());
    expect(vex.statements).toHaveLength(29);
    expect(vex.statements.filter((s) => s.status === 'fixed')).toHaveLength(22);
    const notAffected = vex.statements.filter((s) => s.status === 'not_affected').map((s) => s.vulnerability.name);
    expect(notAffected.sort()).toEqual([...NOT_COMPILED].sort());
    const quic = byId.get('CVE-2026-18798') as any;
    expect(quic.justification).toBe('vulnerable_code_not_present');
    expect(quic.impact_statement).toContain('ssl/quic/quic_port.c');
    expect(quic.impact_statement).toContain('no-quic');
    // the fix is applied as well, and named
    expect(quic.status_notes).toContain('Avoid-double-free-of-qrx-in-port_default_packet_handler.patch (sha256 02c1158d');
    expect((byId.get('CVE-2026-63072') as any).impact_statement).toContain('no-cms');
    // compiled code: fixed by its patch (Poly1305 is in the default provider; nginx's CVEs)
    // (and the DTLS fix: ssl/record/methods/dtls_meth.c is compiled even with no-dtls)
    for (const id of ['CVE-2026-75803', 'CVE-2026-14457', 'CVE-2026-54874', 'CVE-2026-42055']) {
      const s = byId.get(id) as any;
      expect(s.status).toBe('fixed');
      expect(s.justification).toBeUndefined();
      expect(s.status_notes).toMatch(/^Resolved in this build by /);
    }
  });

  it('names each product by the purl, CPE and sha256 the SBOM gives that component, and agrees with its vulnerabilities', () => {
    const libs = bom.components.filter((c: any) => c.type === 'library');
    const vulns = new Map(bom.vulnerabilities.map((v: any) => [v.id, v]));
    for (const s of vex.statements) {
      for (const p of s.products as any[]) {
        const c = libs.find((x: any) => x.purl === p['@id']);
        expect(c, `${s.vulnerability.name}: product ${p['@id']} is an SBOM component`).toBeDefined();
        expect(p.identifiers.purl).toBe(c.purl);
        expect(p.identifiers.cpe23).toBe(c.cpe);
        expect(p.hashes['sha-256']).toBe(c.hashes[0].content);
        const v = vulns.get(s.vulnerability.name) as any;
        expect(v.affects.map((a: any) => a.ref)).toContain(c['bom-ref']);
        expect(v.analysis.state).toBe(s.status === 'fixed' ? 'resolved' : 'not_affected');
        if (s.status === 'not_affected') expect(v.analysis.justification).toBe('code_not_present');
      }
    }
    expect(vulns.size).toBe(vex.statements.length);
  });

  it('every not_affected claim is checkable from manifest.json and the SBOM: the switch is in the recorded configure switches', () => {
    const openssl = man.components.find((c) => c.name === 'openssl') as any;
    const sbomSwitches = libs('openssl').properties.filter((p: any) => p.name === 'nginx-forge:configure:switch').map((p: any) => p.value);
    // the whole list the library stage passes after --prefix, in order, in both artifacts
    expect(openssl.configure).toEqual(sbomSwitches);
    expect(openssl.configure.slice(0, 4)).toEqual(['--openssldir=/etc/ssl', '--libdir=lib', 'no-shared', 'no-threads']);
    for (const sw of ['no-quic', 'no-dtls', 'no-cms', 'no-cmp', 'no-ssl-trace', 'no-argon2', 'no-makedepend', 'enable-ktls', 'no-legacy']) expect(openssl.configure).toContain(sw);
    expect(openssl.configure.filter((s: string) => /^(no|enable)-/.test(s)).length).toBeGreaterThanOrEqual(34);
    expect(man.notAffectedCves.map((n) => n.id).sort()).toEqual([...NOT_COMPILED].sort());
    for (const n of man.notAffectedCves) for (const x of n.notCompiled) expect(switchInEffect(sbomSwitches, x.switch)).toBe(true);
    // every library records its switches (jemalloc's --disable-cxx …), nginx none of its own here
    expect((man.components.find((c) => c.name === 'jemalloc') as any).configure).toEqual(expect.arrayContaining(['--disable-cxx']));
    expect((man.components.find((c) => c.name === 'nginx') as any).configure).toBeUndefined();
  });

  it('a profile whose options turn the code back on (enable-quic after no-quic) says fixed for those CVEs', () => {
    const recipes = copyRecipes();
    tmps.push(path.dirname(recipes));
    editJson(path.join(recipes, 'profiles/ktls.json'), (j) => j.components.openssl.options.push('enable-quic'));
    const p2 = resolvePlan(loadRecipes(recipes), 'ktls');
    const v2 = openvex({ plan: p2, artifactFiles: {}, epoch });
    const status = (id: string) => v2.statements.find((s) => s.vulnerability.name === id)!.status;
    for (const id of QUIC) expect(status(id)).toBe('fixed');
    expect(status('CVE-2026-63073')).toBe('not_affected');
    const b2 = cyclonedx({ plan: p2, artifactFiles: {}, epoch, binarySha: 'b'.repeat(64) }) as any;
    expect(b2.vulnerabilities.find((v: any) => v.id === QUIC[0]).analysis.state).toBe('resolved');
  });

  it('a notCompiled switch the recipe does not have is a recipe error naming the field (a typo would silently say fixed)', () => {
    const recipes = copyRecipes();
    tmps.push(path.dirname(recipes));
    editJson(path.join(recipes, 'components/openssl.json'), (j) => (j.versions['3.5.7'].patchSets[0].patches[0].notCompiled.switch = 'no-quik'));
    expect(() => resolvePlan(loadRecipes(recipes), 'ktls')).toThrow(/openssl\.json.*versions\["?3\.5\.7"?\]\.patchSets\[0\]\.patches\[0\]\.notCompiled\.switch.*"no-quik" is not one of this component's build\.args or build\.trim switches/s);
  });

  it('switchInEffect: the last of no-x / enable-x wins', () => {
    expect(switchInEffect(['no-quic'], 'no-quic')).toBe(true);
    expect(switchInEffect(['no-quic', 'enable-quic'], 'no-quic')).toBe(false);
    expect(switchInEffect(['enable-quic', 'no-quic'], 'no-quic')).toBe(true);
    expect(switchInEffect(['--disable-cxx', '--enable-cxx'], '--disable-cxx')).toBe(false);
    expect(switchInEffect([], 'no-quic')).toBe(false);
  });

  it('is deterministic: id from the plan, timestamp from SOURCE_DATE_EPOCH (the SBOM carries the same time)', () => {
    expect(JSON.stringify(openvex({ plan, artifactFiles, epoch }))).toBe(JSON.stringify(vex));
    expect(vex.timestamp).toBe(new Date(epoch * 1000).toISOString());
    expect(bom.metadata.timestamp).toBe(vex.timestamp);
    expect(vex['@id']).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(vex.author).toBe(bom.metadata.supplier.name);
  });

  it('writeArtifacts writes vex.openvex.json into --out and lists it in SHA256SUMS', async () => {
    const p = resolvePlan(loadRecipes(), 'ktls');
    const t = mkdtempSync(path.join(os.tmpdir(), 'nf-vex-'));
    tmps.push(t);
    const root = path.join(t, 'root');
    const sbin = path.join(root, p.install.sbin);
    mkdirSync(path.dirname(sbin), { recursive: true });
    // real ELF files with a build-id: the artifacts stage also writes the debug-symbol archive
    const elf = (out: string) => execFileSync('cc', ['-g', '-Wl,--build-id=sha1', '-x', 'c', '-', '-o', out], { input: 'int main(void) { return 0; }\n' });
    elf(sbin);
    const debug = path.join(t, 'nginx-debug');
    elf(debug);
    mkdirSync(path.join(t, 'licenses', 'nginx'), { recursive: true });
    writeFileSync(path.join(t, 'licenses', 'nginx', 'LICENSE'), 'license\n');
    const out = path.join(t, 'out');
    const files = await writeArtifacts({ plan: p, root, licensesDir: path.join(t, 'licenses'), artifactFiles: {}, epoch, out, variantBinaries: { 'nginx-debug': debug } });
    const vexPath = path.join(out, VEX_FILE);
    expect(files).toContain(vexPath);
    const doc = JSON.parse(readFileSync(vexPath, 'utf8'));
    expect(OpenVexDocument.safeParse(doc).success).toBe(true);
    const sums = readFileSync(path.join(out, 'SHA256SUMS'), 'utf8');
    expect(sums).toContain(`${createHash('sha256').update(readFileSync(vexPath)).digest('hex')}  ${VEX_FILE}\n`);
  });
});

function libs(name: string) {
  return bom.components.find((c: any) => c.type === 'library' && c.name === name);
}
