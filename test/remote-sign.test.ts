// Signatures of remote stage-cache entries (src/remote/sign.ts): the bundle cosign's new bundle
// format writes (checked against the DSSE, in-toto and Sigstore bundle definitions independently of
// the code under test), the verdicts of verifyBundle, the OCI 1.1 referrer and its fallback index,
// and `cache keygen`.
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bundleFromJSON, isBundleWithDsseEnvelope, isBundleWithPublicKey, toDSSEBundle, bundleToJSON } from '@sigstore/bundle';
import { PROJECT_ROOT } from '../src/recipes/load.ts';
import {
  addToReferrersIndex,
  bundleLayerOf,
  generateKeyPair,
  keyHint,
  ReferrersIndexError,
  referrerManifest,
  referrersTag,
  signManifestDigest,
  verifyBundle,
} from '../src/remote/sign.ts';

const A = `sha256:${'a1'.repeat(32)}`;
const B = `sha256:${'b2'.repeat(32)}`;
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ours = generateKeyPair();
const theirs = generateKeyPair();

type Json = Record<string, any>;
const parse = (b: Buffer | string): Json => JSON.parse(b.toString());
const reserialize = (o: Json) => Buffer.from(JSON.stringify(o));
/** DSSE v1 pre-authentication encoding, written from the protocol text. */
const pae = (type: string, body: Buffer) => Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);

describe('the signed bundle', () => {
  const { bytes, bundle } = signManifestDigest({ digest: A, mediaType: MANIFEST }, ours.privatePem, ours.publicPem);
  const json = parse(bytes);

  it('is a Sigstore v0.3 bundle with a DSSE envelope and a public-key hint (@sigstore/bundle parses it)', () => {
    expect(bundle).toEqual(json);
    const b = bundleFromJSON(json);
    expect(b.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(isBundleWithDsseEnvelope(b)).toBe(true);
    expect(isBundleWithPublicKey(b)).toBe(true);
    expect(json.verificationMaterial.tlogEntries ?? []).toEqual([]);
    expect(json.verificationMaterial.x509CertificateChain).toBeUndefined();
    expect(json.verificationMaterial.certificate).toBeUndefined();
  });

  it('signs an in-toto Statement v1 of the cosign sign predicate whose subject is the manifest digest', () => {
    expect(json.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
    const st = parse(Buffer.from(json.dsseEnvelope.payload, 'base64'));
    expect(st).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: A.slice(7) }, mediaType: MANIFEST }],
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      predicate: {},
    });
  });

  it('carries one ECDSA P-256/SHA-256 signature over the DSSE PAE, hinted as base64(sha256(DER SPKI))', () => {
    const der = createPublicKey(ours.publicPem).export({ type: 'spki', format: 'der' });
    const hint = createHash('sha256').update(der).digest('base64');
    expect(keyHint(ours.publicPem)).toBe(hint);
    expect(json.verificationMaterial.publicKey.hint).toBe(hint);
    expect(json.dsseEnvelope.signatures).toHaveLength(1);
    expect(json.dsseEnvelope.signatures[0].keyid).toBe(hint);
    const payload = Buffer.from(json.dsseEnvelope.payload, 'base64');
    const sig = Buffer.from(json.dsseEnvelope.signatures[0].sig, 'base64');
    expect(verify('sha256', pae('application/vnd.in-toto+json', payload), createPublicKey(ours.publicPem), sig)).toBe(true);
  });

  it('refuses a public key that is not the signing key\'s own, and a digest that is not sha256', () => {
    expect(() => signManifestDigest({ digest: A }, ours.privatePem, theirs.publicPem)).toThrow(/not the signing key/);
    expect(() => signManifestDigest({ digest: 'sha256:abc' }, ours.privatePem, ours.publicPem)).toThrow(/digest/);
  });
});

describe('verifyBundle', () => {
  const signed = signManifestDigest({ digest: A }, ours.privatePem, ours.publicPem);

  it('accepts the bundle with the signing key among the trusted ones, naming that key', () => {
    const r = verifyBundle(signed.bytes, { digest: A }, [theirs.publicPem, ours.publicPem]);
    expect(r).toMatchObject({ ok: true, keyHint: keyHint(ours.publicPem) });
  });

  it('signed by an unknown key: no trusted key signed it', () => {
    expect(verifyBundle(signed.bytes, { digest: A }, [theirs.publicPem])).toMatchObject({ ok: false, reason: 'signed by an unknown key' });
    expect(verifyBundle(signed.bytes, { digest: A }, [])).toMatchObject({ ok: false, reason: 'signed by an unknown key' });
  });

  it('bad signature: a flipped byte in the signature', () => {
    const j = parse(signed.bytes);
    const sig = Buffer.from(j.dsseEnvelope.signatures[0].sig, 'base64');
    sig[sig.length - 5]! ^= 0x01;
    j.dsseEnvelope.signatures[0].sig = sig.toString('base64');
    expect(verifyBundle(reserialize(j), { digest: A }, [ours.publicPem])).toMatchObject({ ok: false, reason: 'bad signature' });
  });

  it('bad signature: a flipped byte in the payload, even one that makes it name the expected digest', () => {
    const j = parse(signed.bytes);
    const payload = Buffer.from(j.dsseEnvelope.payload, 'base64');
    const at = payload.indexOf('predicate":{}');
    payload[at + 11] = '['.charCodeAt(0);
    j.dsseEnvelope.payload = payload.toString('base64');
    expect(verifyBundle(reserialize(j), { digest: A }, [ours.publicPem])).toMatchObject({ ok: false, reason: 'bad signature' });

    // a bundle for A, its payload edited to say B: the signature no longer holds
    const k = parse(signed.bytes);
    k.dsseEnvelope.payload = Buffer.from(Buffer.from(k.dsseEnvelope.payload, 'base64').toString().replace(A.slice(7), B.slice(7))).toString('base64');
    expect(verifyBundle(reserialize(k), { digest: B }, [ours.publicPem])).toMatchObject({ ok: false, reason: 'bad signature' });
  });

  it('bad signature: another key signed it but it names a trusted key', () => {
    const forged = parse(signManifestDigest({ digest: A }, theirs.privatePem, theirs.publicPem).bytes);
    forged.verificationMaterial.publicKey.hint = keyHint(ours.publicPem);
    expect(verifyBundle(reserialize(forged), { digest: A }, [ours.publicPem])).toMatchObject({ ok: false, reason: 'bad signature' });
  });

  it('a trusted signature with no key hint still verifies (cosign does not rely on the hint)', () => {
    const j = parse(signed.bytes);
    j.verificationMaterial.publicKey.hint = '';
    j.dsseEnvelope.signatures[0].keyid = '';
    expect(verifyBundle(reserialize(j), { digest: A }, [theirs.publicPem, ours.publicPem])).toMatchObject({ ok: true, keyHint: keyHint(ours.publicPem) });
  });

  it('signs another digest: a good bundle for A presented for B', () => {
    const r = verifyBundle(signed.bytes, { digest: B }, [ours.publicPem]);
    expect(r).toMatchObject({ ok: false, reason: 'signs another digest' });
    expect(r.ok ? '' : r.detail).toContain(A);
  });

  it('unsigned: no bundle, or an envelope without a signature', () => {
    expect(verifyBundle(undefined, { digest: A }, [ours.publicPem])).toMatchObject({ ok: false, reason: 'unsigned' });
    expect(verifyBundle(Buffer.alloc(0), { digest: A }, [ours.publicPem])).toMatchObject({ ok: false, reason: 'unsigned' });
    const j = parse(signed.bytes);
    j.dsseEnvelope.signatures = [];
    expect(verifyBundle(reserialize(j), { digest: A }, [ours.publicPem])).toMatchObject({ ok: false, reason: 'unsigned' });
  });

  it('malformed bundle: garbage, JSON that is no bundle, another bundle version, content or payload', () => {
    for (const junk of ['garbage', '\x00\xff', '{}', '[]', 'null', JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' })]) {
      expect(verifyBundle(junk, { digest: A }, [ours.publicPem]), junk).toMatchObject({ ok: false, reason: 'malformed bundle' });
    }
    const old = parse(signed.bytes);
    old.mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.2';
    expect(verifyBundle(reserialize(old), { digest: A }, [ours.publicPem])).toMatchObject({ ok: false, reason: 'malformed bundle' });

    // correctly signed by the trusted key, but not a signature statement: an attestation of something else
    const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: { sha256: A.slice(7) } }], predicateType: 'https://slsa.dev/provenance/v1', predicate: {} }));
    const sig = sign('sha256', pae('application/vnd.in-toto+json', statement), createPrivateKey(ours.privatePem));
    const att = bundleToJSON(toDSSEBundle({ artifact: statement, artifactType: 'application/vnd.in-toto+json', signature: sig, keyHint: keyHint(ours.publicPem) }));
    expect(verifyBundle(JSON.stringify(att), { digest: A }, [ours.publicPem])).toMatchObject({ ok: false, reason: 'malformed bundle' });

    const other = parse(signed.bytes);
    other.dsseEnvelope.payloadType = 'text/plain';
    expect(verifyBundle(reserialize(other), { digest: A }, [ours.publicPem])).toMatchObject({ ok: false, reason: 'malformed bundle' });
  });
});

describe('the referrer manifest and the referrers-fallback index', () => {
  const subject = { digest: A, size: 1234, mediaType: MANIFEST };
  const { bytes: bundleBytes } = signManifestDigest({ digest: A }, ours.privatePem, ours.publicPem);
  const ref = referrerManifest(subject, bundleBytes, { created: new Date('2025-01-02T03:04:05.678Z') });
  const m = parse(ref.manifest.bytes);
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

  it('is an OCI image manifest of artifactType bundle v0.3, empty config, one bundle layer, subject = the entry', () => {
    expect(m.schemaVersion).toBe(2);
    expect(m.mediaType).toBe(MANIFEST);
    expect(m.artifactType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(m.config).toEqual({ mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 });
    expect(sha(ref.config.bytes)).toBe(m.config.digest);
    expect(m.layers).toEqual([{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', digest: sha(bundleBytes), size: bundleBytes.length }]);
    expect(ref.layer.bytes.equals(bundleBytes)).toBe(true);
    expect(m.subject).toEqual(subject);
    expect(m.annotations).toEqual({
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1',
      'org.opencontainers.image.created': '2025-01-02T03:04:05Z',
    });
  });

  it('has a descriptor with its digest and size, its artifactType and its annotations (as a referrers list entry must)', () => {
    expect(ref.manifest.descriptor).toEqual({ mediaType: MANIFEST, digest: sha(ref.manifest.bytes), size: ref.manifest.bytes.length, artifactType: m.artifactType, annotations: m.annotations });
  });

  it('names the fallback tag of the referrers tag schema', () => {
    expect(ref.fallbackTag).toBe(`sha256-${'a1'.repeat(32)}`);
    // the distribution spec's own example: truncation to 32 and 64 characters, other characters to '-'
    expect(referrersTag('test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharactersToExcerciseEncodedTruncation'))
      .toBe('test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot');
  });

  it('reads back: the bundle layer of a signature referrer of the subject, and nothing else', () => {
    expect(bundleLayerOf(ref.manifest.bytes, A)).toEqual({ ok: true, layer: m.layers[0] });
    expect(bundleLayerOf(ref.manifest.bytes, B)).toMatchObject({ ok: false });
    expect(bundleLayerOf(reserialize({ ...m, artifactType: 'application/spdx+json' }), A)).toMatchObject({ ok: false });
    expect(bundleLayerOf(reserialize({ ...m, layers: [m.layers[0], m.layers[0]] }), A)).toMatchObject({ ok: false });
    expect(bundleLayerOf(Buffer.from('nope'), A)).toMatchObject({ ok: false });
  });

  it('the index: created when the tag is absent, the descriptor added once (idempotent), others kept', () => {
    const first = addToReferrersIndex(undefined, ref.manifest.descriptor);
    expect(first.changed).toBe(true);
    const idx = parse(first.bytes);
    expect(idx).toEqual({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [ref.manifest.descriptor] });

    const again = addToReferrersIndex(first.bytes, ref.manifest.descriptor);
    expect(again.changed).toBe(false);
    expect(again.bytes.equals(first.bytes)).toBe(true);

    const second = referrerManifest(subject, signManifestDigest({ digest: A }, theirs.privatePem, theirs.publicPem).bytes);
    const both = addToReferrersIndex(again.bytes, second.manifest.descriptor);
    expect(both.changed).toBe(true);
    expect(parse(both.bytes).manifests.map((d: Json) => d.digest)).toEqual([ref.manifest.descriptor.digest, second.manifest.descriptor.digest]);
    expect(addToReferrersIndex(both.bytes, second.manifest.descriptor).changed).toBe(false);
  });

  it('the index: a tag holding something else is an error, not overwritten', () => {
    expect(() => addToReferrersIndex(ref.manifest.bytes, ref.manifest.descriptor)).toThrow(ReferrersIndexError);
    expect(() => addToReferrersIndex(Buffer.from('<html>'), ref.manifest.descriptor)).toThrow(ReferrersIndexError);
  });
});

describe('cache keygen', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nf-keygen-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (args: string[]) =>
    execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), ...args], { reject: false, env: { NGINX_FORGE_TSX: '1' } });

  it('writes PREFIX.key (PKCS#8, 0600) and PREFIX.pub (SPKI), an ECDSA P-256 pair that signs and verifies', async () => {
    const prefix = path.join(dir, 'cache');
    const r = await cli(['cache', 'keygen', '--out', prefix]);
    expect(r.exitCode, r.stderr).toBe(0);
    const keyPem = readFileSync(`${prefix}.key`, 'utf8');
    const pubPem = readFileSync(`${prefix}.pub`, 'utf8');
    expect(statSync(`${prefix}.key`).mode & 0o777).toBe(0o600);
    expect(statSync(`${prefix}.pub`).mode & 0o077 & ~0o044).toBe(0); // readable, writable by its owner only
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(pubPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const priv = createPrivateKey(keyPem);
    expect(priv.asymmetricKeyType).toBe('ec');
    expect(priv.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(r.stderr).toContain(keyHint(pubPem));
    const { bytes } = signManifestDigest({ digest: A }, keyPem, pubPem);
    expect(verifyBundle(bytes, { digest: A }, [pubPem])).toMatchObject({ ok: true });
  });

  it('refuses to overwrite an existing .key or .pub: exit 2, the file named, nothing changed', async () => {
    const prefix = path.join(dir, 'k');
    expect((await cli(['cache', 'keygen', '--out', prefix])).exitCode).toBe(0);
    const before = readFileSync(`${prefix}.key`, 'utf8');
    const r = await cli(['cache', 'keygen', '--out', prefix]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${prefix}.key already exists`);
    expect(readFileSync(`${prefix}.key`, 'utf8')).toBe(before);

    const only = path.join(dir, 'only-pub');
    writeFileSync(`${only}.pub`, 'mine\n');
    const p = await cli(['cache', 'keygen', '--out', only]);
    expect(p.exitCode).toBe(2);
    expect(p.stderr).toContain(`${only}.pub already exists`);
    expect(existsSync(`${only}.key`)).toBe(false);
    expect(readFileSync(`${only}.pub`, 'utf8')).toBe('mine\n');
  });

  it('--out is required, and its directory must exist (exit 2)', async () => {
    expect((await cli(['cache', 'keygen'])).exitCode).toBe(2);
    const r = await cli(['cache', 'keygen', '--out', path.join(dir, 'missing', 'k')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('does not exist');
  });
});
