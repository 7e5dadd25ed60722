// The CycloneDX 1.5 SBOM of a build (written by the package stage as sbom.cdx.json).
//
// What a scanner (Grype, Dependency-Track, Trivy) needs from it:
//   - each component with the CPE the NVD uses for it and a package URL that resolves
//     (pkg:github/<owner>/<repo>@<tag> for the upstream release), its license, and the sha256 of
//     the archive actually built, with a version that describes those same bytes (a distro repack
//     gets its own version, the upstream release is then named in pedigree.ancestors);
//   - the patch-set archives (pkg:deb/debian/<source>@<version>?arch=source) and every applied patch
//     as "file" components with their sha256, and in the patched component's pedigree.patches each
//     patch with the issues it resolves (type security, the CVE id);
//   - a vulnerabilities section: every CVE resolved by an applied patch, analysis.state "resolved",
//     with the patch (id, sha256, patch set) as the detail, or "not_affected" (code_not_present)
//     when this build does not compile its code (src/cves.ts: the same statuses as the OpenVEX
//     document, src/vex.ts). Without it a CPE-matching scanner would report the patched CVEs of
//     nginx 1.26.3 and OpenSSL 3.5.7 as open;
//   - each library's configure switches (nginx-forge:configure:switch properties), the supplier,
//     and SOURCE_DATE_EPOCH as the timestamp.
import { PackageURL } from 'packageurl-js';
import { component, server, type BuildPlan, type PlanComponent, type PlanPatch, type PlanPatchSet } from './plan.ts';
import type { Artifact } from './recipes/schema.ts';
import { componentSwitches, cveAnalyses, fixedStatement, notCompiledStatement } from './cves.ts';

/** Who supplies these artifacts (the SBOM's metadata.supplier, the VEX document's author): the LICENSE's holders. */
export const SUPPLIER = 'nginx-forge contributors';

export interface SbomInput {
  plan: BuildPlan;
  /** the chosen artifact's file name per component (what was actually fetched) */
  artifactFiles: Record<string, { file: string; sha256: string }>;
  /** SOURCE_DATE_EPOCH: the SBOM's timestamp, so the same plan gives the same bytes */
  epoch: number;
  binarySha: string;
  toolVersion?: string;
}

/** Deterministic UUID (v5-shaped) from a hash, so the SBOM of the same plan is byte-identical. */
export function uuidFrom(hex: string): string {
  const h = `${hex.slice(0, 12)}5${hex.slice(13, 16)}${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 32)}`;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const fill = (template: string, version: string) => template.split('{version}').join(version);

/**
 * The purl of the upstream release: the recipe's identity with this version, or, when the recipe
 * names the version's git tag (Debian's 1.0.0~rc is tag v1.0.0rc), with that tag as its version.
 */
export function upstreamPurl(c: Pick<PlanComponent, 'identity' | 'version' | 'tag'>): string | undefined {
  if (!c.identity) return undefined;
  if (!c.tag) return canonicalPurl(fill(c.identity.purl, c.version));
  const p = PackageURL.fromString(fill(c.identity.purl, c.version));
  return new PackageURL(p.type, p.namespace, p.name, c.tag, p.qualifiers, p.subpath).toString();
}

/** The component's CPE for this version, when the NVD has one (recipe identity.cpe). */
export const componentCpe = (c: Pick<PlanComponent, 'identity' | 'version'>): string | undefined => (c.identity?.cpe ? fill(c.identity.cpe, c.version) : undefined);

/**
 * The purl the SBOM gives the bytes built: the upstream release's, or for a distro repack (or a
 * component without an identity) pkg:generic with the archive's checksum. The VEX document names
 * its products by this same purl.
 */
export function componentPurl(c: PlanComponent, chosen?: { file: string; sha256: string }): string {
  const used = usedArtifact(c, chosen);
  const up = upstreamPurl(c);
  if (up && !used.upstream) return up;
  return new PackageURL('generic', undefined, c.name, used.version, { checksum: `sha256:${used.artifact.sha256}` }).toString();
}

/** Canonical form of a purl (the library encodes what the spec wants encoded). */
export function canonicalPurl(purl: string): string {
  return PackageURL.fromString(purl).toString();
}

/** `<source>_<version>.debian.tar.xz` → the Debian source package and version it belongs to. */
export function debianSourceOf(file: string): { source: string; version: string } | undefined {
  const m = /^([a-z0-9][a-z0-9.+-]+)_([0-9][A-Za-z0-9.+~:-]*)\.debian\.tar\.(?:xz|gz|bz2)$/.exec(file);
  return m ? { source: m[1]!, version: m[2]! } : undefined;
}

/** The version string an archive's file name gives (`zlib-ng-2.2.4-dfsg.tar.xz` → `2.2.4-dfsg`). */
function fileVersion(name: string, file: string): string | undefined {
  const m = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(.+?)\\.(?:tar\\.(?:gz|xz|bz2|zst)|tgz|zip)$`).exec(file);
  return m?.[1];
}

interface UsedArtifact {
  artifact: Artifact;
  /** the version the used bytes carry: the recipe version, or a repack's own (e.g. 2.2.4-dfsg) */
  version: string;
  /** set when the used archive is not the upstream release (a distro repack) */
  upstream?: Artifact;
}

export function usedArtifact(c: PlanComponent, chosen?: { file: string; sha256: string }): UsedArtifact {
  const artifact = c.artifacts.find((a) => a.sha256 === chosen?.sha256) ?? c.artifacts[0]!;
  const own = fileVersion(c.name, artifact.file);
  if (artifact === c.artifacts[0] || !own || own === c.version) return { artifact, version: c.version };
  return { artifact, version: own, upstream: c.artifacts[0] };
}

const componentRef = (c: PlanComponent) => `component:${c.name}`;
const patchSetRef = (s: PlanPatchSet) => `patchset:${s.name}`;
const patchRef = (p: PlanPatch) => `patch:${p.id}`;
const vulnSource = (id: string) => ({ name: 'NVD', url: `https://nvd.nist.gov/vuln/detail/${id}` });

export function cyclonedx(input: SbomInput) {
  const { plan } = input;
  const nginx = server(plan);
  const serial = uuidFrom(plan.planHash);
  const bomLink = (ref: string) => `urn:cdx:${serial}/1#${encodeURIComponent(ref)}`;
  const appRef = `nginx-forge:${plan.profile}`;

  const components: Record<string, unknown>[] = plan.components.map((c) => {
    const used = usedArtifact(c, input.artifactFiles[c.name]);
    const patches = plan.patches.filter((p) => p.component === c.name);
    const upPurl = upstreamPurl(c);
    const purl = componentPurl(c, input.artifactFiles[c.name]);
    const cpe = componentCpe(c);
    const switches = componentSwitches(plan, c);
    const url = used.artifact.urls[0];
    const pedigree: Record<string, unknown> = {};
    if (used.upstream) {
      pedigree.ancestors = [
        {
          type: 'library',
          'bom-ref': `${componentRef(c)}:upstream`,
          name: c.name,
          version: c.version,
          ...(upPurl ? { purl: upPurl } : {}),
          hashes: [{ alg: 'SHA-256', content: used.upstream.sha256 }],
        },
      ];
    }
    if (patches.length) {
      pedigree.patches = patches.map((p) => ({
        type: p.origin.kind === 'patchset' ? 'backport' : 'unofficial',
        diff: { url: bomLink(patchRef(p)) },
        ...(p.cves.length ? { resolves: p.cves.map((id) => ({ type: 'security', id, source: vulnSource(id) })) } : {}),
      }));
    }
    const notes: string[] = [];
    if (used.upstream) notes.push(`Built from ${used.artifact.file} (sha256 ${used.artifact.sha256}), a repack of the upstream ${c.name} ${c.version} release ${used.upstream.file}.`);
    if (patches.length) notes.push(`${patches.length} patches applied in this order; each patch is a file component with its sha256 (see diff.url).`);
    if (notes.length) pedigree.notes = notes.join(' ');
    return {
      type: 'library',
      'bom-ref': componentRef(c),
      name: c.name,
      version: used.version,
      hashes: [{ alg: 'SHA-256', content: used.artifact.sha256 }],
      licenses: [{ expression: c.license }],
      ...(cpe ? { cpe } : {}),
      purl,
      ...(url ? { externalReferences: [{ type: 'distribution', url }] } : {}),
      ...(Object.keys(pedigree).length ? { pedigree } : {}),
      ...(c.module
        ? { description: `nginx module (${c.module.link === 'dynamic' ? 'dynamic: --add-dynamic-module, loaded with load_module' : 'static: --add-module, inside the nginx binary'})` }
        : {}),
      ...(c.module || (c.build && switches.length)
        ? {
            properties: [
              ...(c.module
                ? [{ name: 'nginx-forge:module:link', value: c.module.link }, ...c.module.names.map((n) => ({ name: 'nginx-forge:module:name', value: n }))]
                : []),
              // a library's configure switches, in the order its configure got them (OpenSSL's
              // no-*/enable-*): what a not_affected claim in the vulnerabilities is checked against
              ...(c.build ? switches.map((value) => ({ name: 'nginx-forge:configure:switch', value })) : []),
            ],
          }
        : {}),
    };
  });

  // patch-set archives and the patches applied from them, each a file with its hash
  for (const s of plan.patchSets) {
    const deb = s.artifact.distro ? debianSourceOf(s.artifact.distro.file) : undefined;
    const applied = plan.patches.filter((p) => p.origin.kind === 'patchset' && p.origin.patchSet === s.name);
    components.push({
      type: 'file',
      'bom-ref': patchSetRef(s),
      name: s.artifact.file,
      ...(deb ? { version: deb.version, purl: new PackageURL('deb', 'debian', deb.source, deb.version, { arch: 'source' }).toString() } : {}),
      description: `${s.description}; patches for ${s.component}`,
      hashes: [{ alg: 'SHA-256', content: s.artifact.sha256 }],
      components: applied.map((p) => patchComponent(p)),
    });
  }
  const local = plan.patches.filter((p) => p.origin.kind === 'local');
  for (const p of local) components.push(patchComponent(p));

  // every CVE an applied patch resolves; not_affected when its code is not compiled (src/cves.ts)
  const vulnerabilities = cveAnalyses(plan).map((a) => ({
    'bom-ref': `vulnerability:${a.id}`,
    id: a.id,
    source: vulnSource(a.id),
    analysis: a.notCompiled
      ? { state: 'not_affected', justification: 'code_not_present', response: ['update'], detail: `${notCompiledStatement(a)} ${fixedStatement(plan, a)}` }
      : { state: 'resolved', response: ['update'], detail: fixedStatement(plan, a) },
    affects: a.components.map((name) => ({
      ref: componentRef(component(plan, name)),
      versions: [{ version: component(plan, name).version, status: 'unaffected' }],
    })),
  }));

  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${serial}`,
    version: 1,
    metadata: {
      // SOURCE_DATE_EPOCH (the tarball's mtimes, the compilers' __DATE__): the same plan, the same bytes
      timestamp: new Date(input.epoch * 1000).toISOString(),
      supplier: { name: SUPPLIER },
      tools: { components: [{ type: 'application', name: 'nginx-forge', version: input.toolVersion ?? '0.1.0' }] },
      component: {
        type: 'application',
        'bom-ref': appRef,
        name: nginx.name,
        version: nginx.version,
        description: `nginx built by nginx-forge, profile ${plan.profile}, for ${plan.target.triple}`,
        hashes: [{ alg: 'SHA-256', content: input.binarySha }],
        // the machine the binary is for (src/target.ts): a cross build's is not the build host's
        properties: [
          { name: 'nginx-forge:target:triple', value: plan.target.triple },
          { name: 'nginx-forge:target:cpu', value: plan.target.cpu },
        ],
      },
    },
    components,
    dependencies: [
      { ref: appRef, dependsOn: plan.components.map(componentRef) },
      ...plan.components.map((c) => ({
        ref: componentRef(c),
        dependsOn: [
          ...plan.patchSets.filter((s) => s.component === c.name).map(patchSetRef),
          // a module depends on the libraries it links
          ...(c.module?.requires ?? []).map((n) => componentRef(component(plan, n))),
        ],
      })),
    ],
    vulnerabilities,
  };
}

function patchComponent(p: PlanPatch) {
  return {
    type: 'file',
    'bom-ref': patchRef(p),
    name: p.id,
    hashes: [{ alg: 'SHA-256', content: p.sha256 }],
    ...(p.cves.length ? { description: `resolves ${p.cves.join(', ')}` } : {}),
  };
}
