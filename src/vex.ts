// The OpenVEX document of a build (written beside the SBOM as vex.openvex.json), spec v0.2.0
// (https://github.com/openvex/spec). Scanners apply VEX from a separate document (Grype's --vex,
// Trivy's --vex): without it a CPE/purl match of nginx 1.26.3 or OpenSSL 3.5.7 reports every CVE
// the applied patches resolve as open. One statement per CVE (src/cves.ts decides the status):
//   fixed         an applied patch resolves it; status_notes name the patch and its sha256
//   not_affected  vulnerable_code_not_present: the configure switch that leaves the code out
//                 (recorded in the manifest and the SBOM) and the files, as the impact_statement
// Products are named by the same purl (and CPE, and the archive's sha256) the SBOM gives the
// component, so a scanner matching the SBOM's packages matches the statements. Deterministic: the
// id comes from the plan hash, the timestamp from SOURCE_DATE_EPOCH.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { component, type BuildPlan } from './plan.ts';
import { cveAnalyses, fixedStatement, notCompiledStatement } from './cves.ts';
import { componentCpe, componentPurl, SUPPLIER, usedArtifact, uuidFrom } from './sbom.ts';

export const OPENVEX_CONTEXT = 'https://openvex.dev/ns/v0.2.0';
export const VEX_FILE = 'vex.openvex.json';

export interface VexInput {
  plan: BuildPlan;
  /** the chosen artifact per component (what was actually fetched), as for the SBOM */
  artifactFiles: Record<string, { file: string; sha256: string }>;
  /** SOURCE_DATE_EPOCH */
  epoch: number;
  toolVersion?: string;
}

export function openvex(input: VexInput) {
  const { plan } = input;
  const timestamp = new Date(input.epoch * 1000).toISOString();
  const product = (name: string) => {
    const c = component(plan, name);
    const chosen = input.artifactFiles[c.name];
    const purl = componentPurl(c, chosen);
    const cpe = componentCpe(c);
    return {
      '@id': purl,
      identifiers: { purl, ...(cpe ? { cpe23: cpe } : {}) },
      hashes: { 'sha-256': usedArtifact(c, chosen).artifact.sha256 },
    };
  };
  const statements = cveAnalyses(plan).map((a) => ({
    vulnerability: { '@id': `https://nvd.nist.gov/vuln/detail/${a.id}`, name: a.id },
    products: a.components.map(product),
    ...(a.notCompiled
      ? {
          status: 'not_affected' as const,
          justification: 'vulnerable_code_not_present' as const,
          impact_statement: notCompiledStatement(a).replace("this SBOM's", 'sbom.cdx.json'),
          status_notes: fixedStatement(plan, a),
        }
      : { status: 'fixed' as const, status_notes: fixedStatement(plan, a) }),
  }));
  const id = createHash('sha256').update(`openvex\0${plan.planHash}`).digest('hex');
  return {
    '@context': OPENVEX_CONTEXT,
    '@id': `urn:uuid:${uuidFrom(id)}`,
    author: SUPPLIER,
    role: 'Document Creator',
    timestamp,
    version: 1,
    tooling: `nginx-forge ${input.toolVersion ?? '0.1.0'}`,
    statements,
  };
}

// The OpenVEX 0.2.0 document as its JSON schema (openvex_json_schema.json of the spec) defines it,
// written with zod: strict objects (no unknown fields), the status and justification labels, the
// schema's conditionals (not_affected needs a justification or an impact statement, affected an
// action statement) and the spec's rule that a statement names at least one product.
const Iri = z.string().regex(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, { error: 'must be an IRI (scheme:rest)' });
const DateTime = z.iso.datetime({ offset: true });
const Identifiers = z
  .strictObject({ purl: z.string().optional(), cpe22: z.string().optional(), cpe23: z.string().optional() })
  .refine((i) => i.purl !== undefined || i.cpe22 !== undefined || i.cpe23 !== undefined, { error: 'identifiers needs purl, cpe22 or cpe23' });
const HashAlg = z.enum(['md5', 'sha1', 'sha-256', 'sha-384', 'sha-512', 'sha3-224', 'sha3-256', 'sha3-384', 'sha3-512', 'blake2s-256', 'blake2b-256', 'blake2b-512']);
const Hashes = z.partialRecord(HashAlg, z.string());
const Subcomponent = z
  .strictObject({ '@id': Iri.optional(), identifiers: Identifiers.optional(), hashes: Hashes.optional() })
  .refine((c) => c['@id'] !== undefined || c.identifiers !== undefined, { error: 'a component needs @id or identifiers' });
const Product = z
  .strictObject({ '@id': Iri.optional(), identifiers: Identifiers.optional(), hashes: Hashes.optional(), subcomponents: z.array(Subcomponent).optional() })
  .refine((c) => c['@id'] !== undefined || c.identifiers !== undefined, { error: 'a product needs @id or identifiers' });
export const VEX_STATUSES = ['not_affected', 'affected', 'fixed', 'under_investigation'] as const;
export const VEX_JUSTIFICATIONS = [
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist',
] as const;
const Statement = z
  .strictObject({
    '@id': Iri.optional(),
    version: z.int().min(1).optional(),
    vulnerability: z.strictObject({ '@id': Iri.optional(), name: z.string().min(1), description: z.string().optional(), aliases: z.array(z.string()).optional() }),
    timestamp: DateTime.optional(),
    last_updated: DateTime.optional(),
    products: z.array(Product).min(1),
    status: z.enum(VEX_STATUSES),
    supplier: z.string().optional(),
    status_notes: z.string().optional(),
    justification: z.enum(VEX_JUSTIFICATIONS).optional(),
    impact_statement: z.string().optional(),
    action_statement: z.string().optional(),
    action_statement_timestamp: DateTime.optional(),
  })
  .refine((s) => s.status !== 'not_affected' || s.justification !== undefined || s.impact_statement !== undefined, { error: 'a not_affected statement needs a justification or an impact_statement' })
  .refine((s) => s.status !== 'affected' || s.action_statement !== undefined, { error: 'an affected statement needs an action_statement' });
export const OpenVexDocument = z.strictObject({
  '@context': z.url(),
  '@id': Iri,
  author: z.string().min(1),
  role: z.string().optional(),
  timestamp: DateTime,
  last_updated: DateTime.optional(),
  version: z.int().min(1),
  tooling: z.string().optional(),
  statements: z.array(Statement).min(1),
});
