// SLSA provenance (issue 22, item 5): the statement built from a real plan, the DSSE envelope
// signed with a `cache keygen` key and checked by verifyProvenance, and every way it must fail:
// a changed payload, a changed signature, another key, an artifact that differs or is missing, a
// subject outside the directory, an unsigned envelope, another predicate type.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRecipes, PROJECT_ROOT } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { BUILD_TYPE, builderOf, provenanceName, provenanceStatement, verifyProvenance, writeProvenance, PROVENANCE_PREDICATE_TYPE } from '../src/provenance.ts';
import { dsseEnvelope, generateKeyPair, INTOTO_PAYLOAD_TYPE, keyHint, STATEMENT_TYPE, type DsseEnvelope } from '../src/remote/sign.ts';

const plan = resolvePlan(loadRecipes(), 'ktls');
const key = generateKeyPair();
const other = generateKeyPair();
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'nf-prov-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const builder = { id: 'urn:test:builder', version: { 'nginx-forge': '0.1.0', 'git-commit': 'a'.repeat(40) } };

/** An out dir with two artifacts, and its signed provenance (or `mutate`d statement). */
function outDir(name: string, mutate?: (st: any) => void, signer = key.privatePem) {
  const dir = path.join(tmp, name);
  execFileSync('mkdir', ['-p', dir]);
  writeFileSync(path.join(dir, 'nginx.tar.gz'), 'tarball bytes');
  writeFileSync(path.join(dir, 'manifest.json'), '{}\n');
  const st: any = provenanceStatement({
    plan,
    output: 'artifacts',
    subjects: [
      { name: 'nginx.tar.gz', sha256: sha('tarball bytes') },
      { name: 'manifest.json', sha256: sha('{}\n') },
    ],
    builder,
  });
  mutate?.(st);
  const env = dsseEnvelope(INTOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(st)), signer);
  return { dir, env, line: JSON.stringify(env) };
}

describe('provenance statement', () => {
  const st: any = provenanceStatement({ plan, output: 'deb', subjects: [{ name: 'b.deb', sha256: '2'.repeat(64) }, { name: 'a.deb', sha256: '1'.repeat(64) }], builder, sourceDateEpoch: 1_700_000_000 });

  it('is an in-toto Statement v1 with a SLSA provenance v1 predicate, subjects sorted by name', () => {
    expect(st._type).toBe('https://in-toto.io/Statement/v1');
    expect(st.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(st.subject).toEqual([
      { name: 'a.deb', digest: { sha256: '1'.repeat(64) } },
      { name: 'b.deb', digest: { sha256: '2'.repeat(64) } },
    ]);
    expect(st.predicate.buildDefinition.buildType).toBe(BUILD_TYPE);
    expect(st.predicate.buildDefinition.externalParameters).toMatchObject({ profile: 'ktls', output: 'deb', prefix: plan.install.prefix });
  });

  it('names every source and patch with its sha256, the configure argv, plan hash, toolchain and builder', () => {
    const deps = st.predicate.buildDefinition.resolvedDependencies as { name: string; uri?: string; digest: { sha256: string }; annotations: Record<string, string> }[];
    for (const c of plan.components) {
      const d = deps.find((x) => x.annotations.kind === 'source' && x.annotations.component === c.name);
      expect(d, c.name).toBeDefined();
      expect(d!.digest.sha256).toBe(c.artifacts[0]!.sha256);
      expect(d!.uri).toMatch(/^(https?:\/\/|distro:)/);
    }
    expect(plan.patches.length).toBeGreaterThan(0);
    for (const p of plan.patches) expect(deps.find((x) => x.name === p.id)?.digest.sha256, p.id).toBe(p.sha256);
    for (const s of plan.patchSets) expect(deps.find((x) => x.annotations.patchSet === s.name && x.annotations.kind === 'patch set')?.digest.sha256).toBe(s.artifact.sha256);
    const internal = st.predicate.buildDefinition.internalParameters;
    expect(internal.planHash).toBe(plan.planHash);
    expect(internal.configureArgs).toEqual(plan.configureArgs);
    expect(internal.toolchain).toEqual(plan.toolchain);
    expect(internal.sourceDateEpoch).toBe(1_700_000_000);
    expect(st.predicate.runDetails.builder).toEqual(builder);
  });

  it('the artifact a build used (manifest.json) is the one named, not the recipe\'s first', () => {
    const z = plan.components.find((c) => c.artifacts.length > 1)!;
    const alt = z.artifacts[1]!;
    const s2: any = provenanceStatement({ plan, output: 'artifacts', subjects: [], builder, used: { [z.name]: { file: alt.file, sha256: alt.sha256 } } });
    const d = s2.predicate.buildDefinition.resolvedDependencies.find((x: any) => x.annotations.kind === 'source' && x.annotations.component === z.name);
    expect(d).toMatchObject({ name: alt.file, digest: { sha256: alt.sha256 } });
  });

  it('is deterministic: no timestamp, the same inputs give the same bytes', () => {
    const again = provenanceStatement({ plan, output: 'deb', subjects: [{ name: 'a.deb', sha256: '1'.repeat(64) }, { name: 'b.deb', sha256: '2'.repeat(64) }], builder, sourceDateEpoch: 1_700_000_000 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(st));
    expect(JSON.stringify(st)).not.toMatch(/"(startedOn|finishedOn)"/);
  });

  it('the builder is this checkout: its git commit and package version', () => {
    const b = builderOf({});
    expect(b.id).toBe('urn:nginx-forge:builder:local');
    expect(b.version['nginx-forge']).toBe(JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).version);
    expect(b.version['git-commit']).toBe(execFileSync('git', ['-C', PROJECT_ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim());
    expect(['clean', 'modified']).toContain(b.version['git-tree']);
    expect(builderOf({ NGINX_FORGE_BUILDER_ID: 'https://ci.example/workflow' }).id).toBe('https://ci.example/workflow');
  });

  it('the file is named after the first artifact', () => {
    expect(provenanceName('/o/nginx-1.26.3-ktls-linux-x86_64.tar.gz')).toBe('nginx-1.26.3-ktls-linux-x86_64.intoto.jsonl');
    expect(provenanceName('/o/nginx-forge-ktls_1.26.3-1_amd64.deb')).toBe('nginx-forge-ktls_1.26.3-1_amd64.intoto.jsonl');
  });
});

describe('DSSE envelope and verify-provenance', () => {
  it('round trip: signed with the key, verified with its .pub, every subject matches', () => {
    const { dir, env, line } = outDir('ok');
    expect(env.payloadType).toBe('application/vnd.in-toto+json');
    expect(env.signatures).toEqual([{ keyid: keyHint(key.publicPem), sig: expect.any(String) }]);
    const [c] = verifyProvenance(`${line}\n`, [key.publicPem], dir);
    expect(c).toMatchObject({ line: 1, ok: true, keyHint: keyHint(key.publicPem), profile: 'ktls', planHash: plan.planHash });
    expect(c!.subjects.map((s) => [s.name, s.ok])).toEqual([['manifest.json', true], ['nginx.tar.gz', true]]);
    // another trusted key beside it does not matter
    expect(verifyProvenance(line, [other.publicPem, key.publicPem], dir)[0]!.ok).toBe(true);
  });

  it('a changed payload is a bad signature', () => {
    const { dir, env } = outDir('payload');
    const st = JSON.parse(Buffer.from(env.payload, 'base64').toString());
    st.subject[0].digest.sha256 = '0'.repeat(64);
    const forged: DsseEnvelope = { ...env, payload: Buffer.from(JSON.stringify(st)).toString('base64') };
    const [c] = verifyProvenance(JSON.stringify(forged), [key.publicPem], dir);
    expect(c!.ok).toBe(false);
    expect(c!.problem).toMatch(/^bad signature/);
  });

  it('a changed signature is a bad signature', () => {
    const { dir, env } = outDir('sig');
    const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
    sig[sig.length - 1] = sig[sig.length - 1]! ^ 1;
    const [c] = verifyProvenance(JSON.stringify({ ...env, signatures: [{ ...env.signatures[0]!, sig: sig.toString('base64') }] }), [key.publicPem], dir);
    expect(c).toMatchObject({ ok: false, problem: expect.stringMatching(/^bad signature/) });
  });

  it('signed by another key: not trusted', () => {
    const { dir, line } = outDir('other', undefined, other.privatePem);
    const [c] = verifyProvenance(line, [key.publicPem], dir);
    expect(c).toMatchObject({ ok: false, problem: expect.stringMatching(/^signed by an unknown key/) });
  });

  it('an unsigned envelope is refused', () => {
    const { dir, env } = outDir('unsigned');
    expect(verifyProvenance(JSON.stringify({ ...env, signatures: [] }), [key.publicPem], dir)[0]).toMatchObject({ ok: false, problem: expect.stringMatching(/^unsigned/) });
  });

  it('an artifact whose bytes differ, or that is missing, fails and is named', () => {
    const { dir, line } = outDir('mismatch');
    writeFileSync(path.join(dir, 'nginx.tar.gz'), 'tarball bytez');
    const [c] = verifyProvenance(line, [key.publicPem], dir);
    expect(c!.ok).toBe(false);
    expect(c!.problem).toContain(`nginx.tar.gz has sha256 ${sha('tarball bytez')}, the provenance says ${sha('tarball bytes')}`);
    expect(c!.subjects.find((s) => s.name === 'manifest.json')!.ok).toBe(true);
    rmSync(path.join(dir, 'manifest.json'));
    expect(verifyProvenance(line, [key.publicPem], dir)[0]!.problem).toContain('manifest.json is missing');
  });

  it('a signed subject outside the artifacts directory is refused, not read', () => {
    const { dir, line } = outDir('escape', (st) => st.subject.push({ name: '../../etc/passwd', digest: { sha256: '0'.repeat(64) } }));
    expect(verifyProvenance(line, [key.publicPem], dir)[0]).toMatchObject({ ok: false, problem: expect.stringContaining('is not a file name inside the artifacts directory') });
  });

  it('a signed statement of another predicate type, or not a statement, is refused', () => {
    const a = outDir('ptype', (st) => (st.predicateType = 'https://sigstore.dev/cosign/sign/v1'));
    expect(verifyProvenance(a.line, [key.publicPem], a.dir)[0]!.problem).toContain(`expected ${PROVENANCE_PREDICATE_TYPE}`);
    const b = outDir('stype', (st) => (st._type = 'https://in-toto.io/Statement/v0.1'));
    expect(verifyProvenance(b.line, [key.publicPem], b.dir)[0]!.problem).toContain(`expected ${STATEMENT_TYPE}`);
  });

  it('each line is checked: one bad envelope among good ones fails, an empty file fails', () => {
    const { dir, line } = outDir('lines');
    const bad = outDir('lines-bad', undefined, other.privatePem).line;
    const checks = verifyProvenance(`${line}\n${bad}\n`, [key.publicPem], dir);
    expect(checks.map((c) => c.ok)).toEqual([true, false]);
    expect(checks[1]!.line).toBe(2);
    expect(verifyProvenance('\n', [key.publicPem], dir)[0]!.ok).toBe(false);
  });

  it('writeProvenance writes <name>.intoto.jsonl, one envelope line, that verifies', () => {
    const { dir } = outDir('write');
    const file = writeProvenance({ out: dir, plan, output: 'artifacts', files: [path.join(dir, 'nginx.tar.gz'), path.join(dir, 'manifest.json')], privatePem: key.privatePem });
    expect(path.basename(file)).toBe('nginx.intoto.jsonl');
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n')).toHaveLength(2); // one line and its newline
    expect(verifyProvenance(text, [key.publicPem], dir)[0]!.ok).toBe(true);
    // deterministic: written again from the same files, the same statement
    const payload = (t: string) => JSON.parse(t).payload;
    const again = writeProvenance({ out: dir, plan, output: 'artifacts', files: [path.join(dir, 'nginx.tar.gz'), path.join(dir, 'manifest.json')], privatePem: key.privatePem });
    expect(payload(readFileSync(again, 'utf8'))).toBe(payload(text));
  });
});
