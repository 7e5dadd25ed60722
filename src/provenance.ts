// SLSA provenance of what build and package write to --out (issue 22, item 5).
//
// FORMAT, as the specs write it:
//  * in-toto Statement v1 (in-toto attestation spec v1, "Statement"): `_type`
//    https://in-toto.io/Statement/v1, `subject` = every file this command wrote (its file name in
//    --out and its sha256), `predicateType` https://slsa.dev/provenance/v1.
//  * SLSA Provenance v1 predicate (slsa.dev/spec/v1.0/provenance):
//      buildDefinition.buildType           BUILD_TYPE (what the parameters below mean: README "Provenance")
//      buildDefinition.externalParameters  what the user chose: profile, output (artifacts|deb|rpm),
//                                          install prefix, the component versions (--set)
//      buildDefinition.internalParameters  the plan hash, nginx's exact configure argv (and the
//                                          twins'), the toolchain facts in the keys, SOURCE_DATE_EPOCH, platform
//      buildDefinition.resolvedDependencies every source archive used, every patch set and patch, each
//                                          with its sha256 (ResourceDescriptor: uri, digest, name, annotations)
//      runDetails.builder                  id (NGINX_FORGE_BUILDER_ID, default BUILDER_ID) and version:
//                                          nginx-forge's package version and, in a git checkout,
//                                          its commit (and whether tracked files were modified)
//    No timestamps: runDetails.metadata is left out, so the same inputs give the same bytes.
//  * DSSE envelope v1 (payloadType application/vnd.in-toto+json, signature over PAE), signed by
//    src/remote/sign.ts with the same kind of key as the stage cache (ECDSA P-256, `cache keygen`).
//    One envelope per line in <out>/<name>.intoto.jsonl (JSON Lines, as slsa-github-generator
//    writes .intoto.jsonl), listed in SHA256SUMS like every other file of --out.
// Checked by `nginx-forge verify-provenance` (verifyProvenance below).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sha256File } from './hash.ts';
import { writeFileAtomic } from './outdir.ts';
import { distroSource, server, type BuildPlan } from './plan.ts';
import { PROJECT_ROOT } from './recipes/load.ts';
import { INTOTO_PAYLOAD_TYPE, STATEMENT_TYPE, dsseEnvelope, verifyDsseEnvelope, type Statement } from './remote/sign.ts';
import { usedArtifact } from './sbom.ts';
import { targetFacts } from './package/targettools.ts';

export const PROVENANCE_PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';
/** What this provenance's parameters mean (README "Provenance"). */
export const BUILD_TYPE = 'urn:nginx-forge:build:v1';
/** runDetails.builder.id when NGINX_FORGE_BUILDER_ID does not say (a CI template sets its workflow). */
export const BUILDER_ID = 'urn:nginx-forge:builder:local';
export const PROVENANCE_SUFFIX = '.intoto.jsonl';

/** A SLSA ResourceDescriptor. */
export interface Resource {
  name: string;
  uri?: string;
  digest: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Builder {
  id: string;
  version: Record<string, string>;
}

export interface ProvenanceInput {
  plan: BuildPlan;
  /** what the command wrote: "artifacts" (build's tarball, manifest, SBOM), "deb", "rpm" */
  output: string;
  /** the files written, by their name in --out */
  subjects: { name: string; sha256: string }[];
  /** the source archive each component was built from (manifest.json's components[].source) */
  used?: Record<string, { file: string; sha256: string }>;
  sourceDateEpoch?: number;
  builder: Builder;
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The in-toto Statement with the SLSA v1 provenance predicate. Pure. */
export function provenanceStatement(input: ProvenanceInput): Statement {
  const { plan } = input;
  const sources: Resource[] = plan.components.map((c) => {
    const { artifact, version } = usedArtifact(c, input.used?.[c.name]);
    const uri = artifact.urls[0] ?? (artifact.distro ? distroSource(artifact.distro) : undefined);
    return { name: artifact.file, ...(uri ? { uri } : {}), digest: { sha256: artifact.sha256 }, annotations: { kind: 'source', component: c.name, version } };
  });
  const patchSets: Resource[] = plan.patchSets.map((s) => {
    const uri = s.artifact.urls[0] ?? (s.artifact.distro ? distroSource(s.artifact.distro) : undefined);
    return { name: s.artifact.file, ...(uri ? { uri } : {}), digest: { sha256: s.artifact.sha256 }, annotations: { kind: 'patch set', component: s.component, patchSet: s.name } };
  });
  const patches: Resource[] = plan.patches.map((p) => ({
    name: p.id,
    digest: { sha256: p.sha256 },
    annotations: {
      kind: 'patch',
      component: p.component,
      ...(p.origin.kind === 'patchset' ? { patchSet: p.origin.patchSet } : {}),
      ...(p.cves.length ? { cves: p.cves.join(',') } : {}),
    },
  }));
  const arch = os.arch() === 'x64' ? 'x86_64' : os.arch();
  return {
    _type: STATEMENT_TYPE,
    subject: [...input.subjects].sort(byName).map((s) => ({ name: s.name, digest: { sha256: s.sha256 } })),
    predicateType: PROVENANCE_PREDICATE_TYPE,
    predicate: {
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: {
          profile: plan.profile,
          output: input.output,
          prefix: plan.install.prefix,
          components: Object.fromEntries(plan.components.map((c) => [c.name, c.version])),
        },
        internalParameters: {
          planHash: plan.planHash,
          server: `${server(plan).name} ${server(plan).version}`,
          configureArgs: plan.configureArgs,
          variants: plan.variants.map((v) => ({ name: v.name, configureArgs: v.configureArgs })),
          componentOptions: Object.fromEntries(plan.components.filter((c) => c.options.length).map((c) => [c.name, c.options])),
          toolchain: plan.toolchain,
          // where it was built, and the machine the binaries are for (a cross build's differ)
          platform: `${os.platform()}-${arch}`,
          target: targetFacts(plan.target),
          ...(input.sourceDateEpoch !== undefined ? { sourceDateEpoch: input.sourceDateEpoch } : {}),
        },
        resolvedDependencies: [...sources, ...patchSets, ...patches],
      },
      runDetails: { builder: { id: input.builder.id, version: input.builder.version } },
    },
  };
}

let builderCache: Builder | undefined;

/**
 * This nginx-forge as a builder: its package version, and in a git checkout of it (the checkout's
 * top level is this package's own directory, not a project that vendors it) the commit and
 * whether tracked files differ from it.
 */
export function builderOf(env: NodeJS.ProcessEnv = process.env): Builder {
  const id = env.NGINX_FORGE_BUILDER_ID || BUILDER_ID;
  if (builderCache && builderCache.id === id) return builderCache;
  const version: Record<string, string> = { 'nginx-forge': (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version };
  const git = (...args: string[]) => execFileSync('git', ['-C', PROJECT_ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  try {
    if (realpathSync(git('rev-parse', '--show-toplevel')) === realpathSync(PROJECT_ROOT)) {
      version['git-commit'] = git('rev-parse', 'HEAD');
      version['git-tree'] = git('status', '--porcelain', '--untracked-files=no') === '' ? 'clean' : 'modified';
    }
  } catch {
    // no git, or not a checkout: the package version alone names the builder
  }
  builderCache = { id, version };
  return builderCache;
}

/** The name of the provenance file for a command's files: the first one's, its extension replaced. */
export function provenanceName(mainFile: string): string {
  return `${path.basename(mainFile).replace(/(\.tar\.gz|\.tgz|\.deb|\.rpm|\.json)$/, '')}${PROVENANCE_SUFFIX}`;
}

/** Read manifest.json's sources and SOURCE_DATE_EPOCH (what the artifacts stage recorded), when there is one. */
export function manifestFacts(manifest?: string): { used: Record<string, { file: string; sha256: string }>; sourceDateEpoch?: number } {
  if (!manifest || !existsSync(manifest)) return { used: {} };
  try {
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { sourceDateEpoch?: number; components?: { name: string; source?: { file: string; sha256: string } }[] };
    const used = Object.fromEntries((m.components ?? []).filter((c) => c.source).map((c) => [c.name, { file: c.source!.file, sha256: c.source!.sha256 }]));
    return { used, ...(typeof m.sourceDateEpoch === 'number' ? { sourceDateEpoch: m.sourceDateEpoch } : {}) };
  } catch {
    return { used: {} };
  }
}

/**
 * Write <out>/<name>.intoto.jsonl: the provenance of `files` (all in `out`), signed with
 * `privatePem`. Returns its path; the caller adds it to SHA256SUMS.
 */
export function writeProvenance(opts: { out: string; plan: BuildPlan; output: string; files: string[]; manifest?: string; privatePem: string }): string {
  const facts = manifestFacts(opts.manifest);
  const statement = provenanceStatement({
    plan: opts.plan,
    output: opts.output,
    subjects: opts.files.map((f) => ({ name: path.relative(opts.out, f).split(path.sep).join('/'), sha256: sha256File(f) })),
    used: facts.used,
    sourceDateEpoch: facts.sourceDateEpoch,
    builder: builderOf(),
  });
  const envelope = dsseEnvelope(INTOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(statement)), opts.privatePem);
  const file = path.join(opts.out, provenanceName(opts.files[0]!));
  writeFileAtomic(file, `${JSON.stringify(envelope)}\n`);
  return file;
}

export interface SubjectCheck {
  name: string;
  expected: string;
  /** the file's sha256, null when it is missing */
  actual: string | null;
  ok: boolean;
}

export interface EnvelopeCheck {
  line: number;
  ok: boolean;
  /** why not, when not ok */
  problem?: string;
  keyHint?: string;
  builder?: Builder;
  profile?: string;
  planHash?: string;
  subjects: SubjectCheck[];
}

/** A subject name as this tool writes it: a path inside the artifacts directory, no `..`, not absolute. */
const SAFE_NAME = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[^\0\\]+$/;

/**
 * Check every envelope of a .intoto.jsonl file: signed by one of `trusted` (SPKI PEMs), an in-toto
 * Statement v1 of the SLSA provenance v1 predicate, and every subject's sha256 equal to the file of
 * that name in `artifactsDir`. Pure but for reading those files.
 */
export function verifyProvenance(text: string, trusted: string[], artifactsDir: string): EnvelopeCheck[] {
  const lines = text.split('\n').map((l, i) => ({ l: l.trim(), line: i + 1 })).filter((x) => x.l !== '');
  if (lines.length === 0) return [{ line: 1, ok: false, problem: 'no envelope in the file (expected one DSSE envelope per line)', subjects: [] }];
  return lines.map(({ l, line }): EnvelopeCheck => {
    const bad = (problem: string, extra: Partial<EnvelopeCheck> = {}): EnvelopeCheck => ({ line, ok: false, problem, subjects: [], ...extra });
    let envelope: unknown;
    try {
      envelope = JSON.parse(l);
    } catch {
      return bad('not JSON (expected a DSSE envelope)');
    }
    const v = verifyDsseEnvelope(envelope, INTOTO_PAYLOAD_TYPE, trusted);
    if (!v.ok) return bad(`${v.reason}: ${v.detail}`);
    let st: Statement & { predicate: { buildDefinition?: { externalParameters?: { profile?: string }; internalParameters?: { planHash?: string } }; runDetails?: { builder?: Builder } } };
    try {
      st = JSON.parse(v.payload.toString('utf8'));
    } catch {
      return bad('the signed payload is not JSON', { keyHint: v.keyHint });
    }
    if (st?._type !== STATEMENT_TYPE) return bad(`the signed payload is not an in-toto Statement v1 (_type ${JSON.stringify(st?._type)}, expected ${STATEMENT_TYPE})`, { keyHint: v.keyHint });
    if (st.predicateType !== PROVENANCE_PREDICATE_TYPE) return bad(`predicate type ${JSON.stringify(st.predicateType)}, expected ${PROVENANCE_PREDICATE_TYPE}`, { keyHint: v.keyHint });
    if (!st.predicate?.buildDefinition || !st.predicate?.runDetails?.builder) return bad('the predicate has no buildDefinition or runDetails.builder', { keyHint: v.keyHint });
    if (!Array.isArray(st.subject) || st.subject.length === 0) return bad('the statement names no subject', { keyHint: v.keyHint });
    const facts = { keyHint: v.keyHint, builder: st.predicate.runDetails.builder, profile: st.predicate.buildDefinition.externalParameters?.profile, planHash: st.predicate.buildDefinition.internalParameters?.planHash };
    const subjects: SubjectCheck[] = [];
    for (const s of st.subject as { name?: unknown; digest?: { sha256?: unknown } }[]) {
      const name = typeof s?.name === 'string' ? s.name : '';
      const expected = typeof s?.digest?.sha256 === 'string' ? s.digest.sha256 : '';
      if (!SAFE_NAME.test(name)) return bad(`subject ${JSON.stringify(s?.name)} is not a file name inside the artifacts directory`, facts);
      if (!/^[0-9a-f]{64}$/.test(expected)) return bad(`subject ${name} has no sha256 digest`, facts);
      const file = path.join(artifactsDir, name);
      const actual = existsSync(file) && statSync(file).isFile() ? sha256File(file) : null;
      subjects.push({ name, expected, actual, ok: actual === expected });
    }
    const wrong = subjects.filter((s) => !s.ok);
    if (wrong.length) {
      const say = (s: SubjectCheck) => (s.actual === null ? `${s.name} is missing` : `${s.name} has sha256 ${s.actual}, the provenance says ${s.expected}`);
      return { line, ok: false, problem: `${wrong.map(say).join('; ')}`, ...facts, subjects };
    }
    return { line, ok: true, ...facts, subjects };
  });
}
