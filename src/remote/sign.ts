// Signatures of remote stage-cache entries (issue 22, item 3). Pure: no network, no files.
//
// FORMAT: the one current cosign writes and reads by default (cosign 3; cosign 2.6+ with
// --new-bundle-format), a Sigstore bundle attached to the entry's manifest as an OCI 1.1 referrer.
//
//  * What is signed: an in-toto Statement v1 (in-toto attestation spec, "Statement" layer)
//      { "_type": "https://in-toto.io/Statement/v1",
//        "subject": [{ "digest": { "sha256": "<hex of the entry manifest digest>" } }],
//        "predicateType": "https://sigstore.dev/cosign/sign/v1", "predicate": {} }
//    wrapped in a DSSE envelope (DSSE protocol v1: payloadType "application/vnd.in-toto+json",
//    the signature is over PAE(payloadType, payload)), ECDSA P-256 with SHA-256, ASN.1 DER.
//    This is what `cosign sign` builds in its new-bundle path (signDigestBundle: the subject is the
//    image manifest digest, predicate empty, predicateType its CosignSignPredicateType), and what
//    `cosign verify` checks: the DSSE signature with the --key public key (sigstore-go verifier,
//    WithKey policy, WithArtifactDigest = the manifest digest, which it matches against the
//    Statement's subjects; IntotoSubjectClaimVerifier does the same for sha256 subjects).
//  * The bundle: Sigstore bundle v0.3 (protobuf-specs Bundle, media type
//    application/vnd.dev.sigstore.bundle.v0.3+json), content = dsseEnvelope, verificationMaterial =
//    publicKey { hint } (key-based: no Fulcio certificate), tlogEntries = [] (no Rekor: a private
//    cache's entries are not published to a public log). The hint is base64(sha256(DER SPKI)), the
//    key id cosign's own key-pair signer puts there; the DSSE signature's keyid is the same.
//  * Where it lives: OCI image-spec v1.1 image manifest ("Guidelines for Artifact Usage": empty
//    config application/vnd.oci.empty.v1+json, artifactType set), artifactType =
//    application/vnd.dev.sigstore.bundle.v0.3+json, exactly one layer = the bundle JSON with that
//    media type, `subject` = the entry manifest's descriptor, annotations
//    dev.sigstore.bundle.content=dsse-envelope and dev.sigstore.bundle.predicateType (cosign's
//    WriteAttestationNewBundleFormat writes the same; its reader wants one layer whose media type
//    starts with application/vnd.dev.sigstore.bundle and a bundle of v0.3 or later).
//  * Discovery: the distribution-spec v1.1 referrers API, and where the registry has none (a push
//    answered without an OCI-Subject header; GET /v2/<name>/referrers/<digest> is 404 — e.g.
//    GitHub's container registry, distribution 2.8) the spec's fallback ("Unavailable Referrers
//    API", "Referrers Tag Schema", "Pushing Manifests with Subject"): an OCI image index under the
//    tag `<alg>-<hex>` of the subject digest listing the referrer descriptors. cosign reads through
//    go-containerregistry's Referrers, which falls back to exactly that tag on a 404.
//
// WHY NOT cosign's classic `sha256-<hex>.sig` tag: that is the legacy simple-signing layout
// (payload = a "cosign container image signature" JSON, signature in a layer annotation); cosign
// marks the non-bundle path as going away ("this will be the only supported format in future
// versions" on --new-bundle-format), and it is not a Sigstore bundle, so the sigstore libraries
// could not verify it. The referrer works on registries with and without the referrers API.
//
// Checking it with cosign (the entry's manifest by digest; no transparency log, so say so):
//   cosign verify --key PREFIX.pub --insecure-ignore-tlog=true REGISTRY/REPO@sha256:<hex>
// (cosign 2.6.x also needs --new-bundle-format). The .key file is plain PKCS#8 PEM, not cosign's
// encrypted key format: `cosign import-key-pair --key PREFIX.key` converts it for `cosign sign`.
//
// Verification here uses @sigstore/verify's Verifier with a key finder over the trusted public
// keys and all thresholds (tlog, ctlog, timestamp) at 0: the library accepts a key-based bundle
// with no log entry and no timestamp. Log entries and timestamps a bundle may carry are not
// trusted (no log or TSA is configured) and are left out of the check, as cosign's
// --insecure-ignore-tlog does; the signature by a trusted key is what counts.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE, bundleFromJSON, bundleToJSON, toDSSEBundle, type Bundle, type SerializedBundle } from '@sigstore/bundle';
import { dsse } from '@sigstore/core';
import { toSignedEntity, VerificationError, Verifier, type TrustMaterial } from '@sigstore/verify';

export const BUNDLE_MEDIA_TYPE = BUNDLE_V03_MEDIA_TYPE;
export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';

/** The empty config blob of an artifact manifest (image-spec "Guidance for an Empty Descriptor"). */
export const EMPTY_CONFIG_BYTES = Buffer.from('{}');
export const EMPTY_CONFIG: Descriptor = { mediaType: OCI_EMPTY_MEDIA_TYPE, digest: sha256Digest(EMPTY_CONFIG_BYTES), size: 2 };

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface KeyPair {
  /** PKCS#8 PEM, unencrypted. */
  privatePem: string;
  /** SPKI PEM ("PUBLIC KEY"), what `cosign verify --key` reads. */
  publicPem: string;
}

export interface Statement {
  _type: string;
  subject: { digest: Record<string, string>; mediaType?: string; annotations?: Record<string, string> }[];
  predicateType: string;
  predicate: Record<string, unknown>;
}

export type VerifyFailure = 'unsigned' | 'signed by an unknown key' | 'bad signature' | 'signs another digest' | 'malformed bundle';
export type VerifyResult = { ok: true; keyHint: string; statement: Statement } | { ok: false; reason: VerifyFailure; detail: string };

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function checkDigest(digest: string): string {
  if (!DIGEST_RE.test(digest)) throw new TypeError(`not a sha256 manifest digest: ${JSON.stringify(digest)}`);
  return digest.slice('sha256:'.length);
}

/** A new ECDSA P-256 key pair as PEM. */
export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

/** The key id of a public key: base64(sha256(DER SubjectPublicKeyInfo)), as cosign's key signer hints it. */
export function keyHint(publicPem: string): string {
  return createHash('sha256').update(spkiDer(createPublicKey(publicPem))).digest('base64');
}

/** A DSSE envelope as its JSON is written (DSSE protocol v1 "Envelope"; payload and sig base64). */
export interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

/**
 * DSSE v1 signing, the one place it is done: ECDSA P-256 / SHA-256 (ASN.1 DER) over
 * PAE(payloadType, payload), key id = keyHint() of the signer's public key. Signs cache-entry
 * bundles and provenance. `publicPem`, when given, must be the private key's own public half.
 */
export function signDsse(payloadType: string, payload: Buffer, privatePem: string, publicPem?: string): { signature: Buffer; keyid: string } {
  const priv = createPrivateKey(privatePem);
  if (!isP256(priv)) throw new TypeError('the signing key is not an ECDSA P-256 key');
  const ownDer = spkiDer(createPublicKey(priv));
  if (publicPem !== undefined && !ownDer.equals(spkiDer(createPublicKey(publicPem)))) throw new TypeError('the public key is not the signing key\'s own');
  const keyid = createHash('sha256').update(ownDer).digest('base64');
  return { signature: sign('sha256', dsse.preAuthEncoding(payloadType, payload), priv), keyid };
}

/** `payload` signed into a DSSE envelope (what a `.intoto.jsonl` line holds). */
export function dsseEnvelope(payloadType: string, payload: Buffer, privatePem: string): DsseEnvelope {
  const { signature, keyid } = signDsse(payloadType, payload, privatePem);
  return { payloadType, payload: payload.toString('base64'), signatures: [{ keyid, sig: signature.toString('base64') }] };
}

/**
 * Sign an entry manifest digest: the in-toto Statement naming it, in a DSSE envelope, in a
 * Sigstore v0.3 bundle. `publicPem` must be the private key's own public half.
 */
export function signManifestDigest(
  subject: { digest: string; mediaType?: string; annotations?: Record<string, string> },
  privatePem: string,
  publicPem: string,
): { bundle: SerializedBundle; bytes: Buffer; statement: Statement } {
  const hex = checkDigest(subject.digest);
  const statement: Statement = {
    _type: STATEMENT_TYPE,
    subject: [
      {
        digest: { sha256: hex },
        ...(subject.mediaType ? { mediaType: subject.mediaType } : {}),
        ...(subject.annotations && Object.keys(subject.annotations).length ? { annotations: { ...subject.annotations } } : {}),
      },
    ],
    predicateType: SIGN_PREDICATE_TYPE,
    predicate: {},
  };
  const payload = Buffer.from(JSON.stringify(statement));
  const { signature, keyid } = signDsse(INTOTO_PAYLOAD_TYPE, payload, privatePem, publicPem);
  const bundle = bundleToJSON(toDSSEBundle({ artifact: payload, artifactType: INTOTO_PAYLOAD_TYPE, signature, keyHint: keyid }));
  return { bundle, bytes: Buffer.from(JSON.stringify(bundle)), statement };
}

const fail = (reason: VerifyFailure, detail: string): VerifyResult => ({ ok: false, reason, detail });

function trustFor(key: KeyObject): TrustMaterial {
  return {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: () => ({ publicKey: key, validFor: () => true }),
  };
}

/** The DSSE signature checked by @sigstore/verify against one key: true, false, or a verifier error. */
function verifiesWith(bundle: Bundle, key: KeyObject): boolean {
  // no log or timestamp authority is trusted: what a bundle carries of those is not evidence here
  const entity = { ...toSignedEntity(bundle), tlogEntries: [], timestamps: [] };
  try {
    new Verifier(trustFor(key), { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
    return true;
  } catch (e) {
    if (e instanceof VerificationError && e.code === 'SIGNATURE_ERROR') return false;
    throw e;
  }
}

/**
 * Which trusted key (SPKI PEMs) signed a DSSE bundle, checked by @sigstore/verify. The hint is the
 * signer's claim: a trusted key it names must verify; a bundle naming no trusted key is still
 * accepted when one verifies it (cosign ignores the hint and tries the --key).
 */
function signerOf(bundle: Bundle, hint: string, trusted: string[]): { ok: true; keyHint: string } | { ok: false; reason: VerifyFailure; detail: string } {
  const keys = trusted.map((pem) => {
    const key = createPublicKey(pem);
    return { key, hint: createHash('sha256').update(spkiDer(key)).digest('base64') };
  });
  const named = keys.filter((k) => k.hint === hint);
  try {
    for (const k of named.length ? named : keys) if (verifiesWith(bundle, k.key)) return { ok: true, keyHint: k.hint };
  } catch (e) {
    return { ok: false, reason: 'malformed bundle', detail: `cannot check the signature: ${(e as Error).message}` };
  }
  return named.length
    ? { ok: false, reason: 'bad signature', detail: `the signature does not verify with the trusted key ${hint}` }
    : { ok: false, reason: 'signed by an unknown key', detail: `signed by key ${hint || '(no key id)'}, not one of the ${trusted.length} trusted key(s)` };
}

/**
 * Check a bare DSSE envelope (a `.intoto.jsonl` line) of `payloadType`: exactly one signature,
 * by one of `trusted` (SPKI PEMs), verified by the same path as a cache entry's bundle (the
 * envelope as a key-based Sigstore bundle, @sigstore/verify). Returns the signed payload.
 */
export function verifyDsseEnvelope(
  envelope: unknown,
  payloadType: string,
  trusted: string[],
): { ok: true; keyHint: string; payload: Buffer } | { ok: false; reason: VerifyFailure; detail: string } {
  const e = envelope as Partial<DsseEnvelope> | null;
  if (!e || typeof e !== 'object' || typeof e.payload !== 'string' || typeof e.payloadType !== 'string') {
    return { ok: false, reason: 'malformed bundle', detail: 'not a DSSE envelope (expected {payloadType, payload, signatures})' };
  }
  if (e.payloadType !== payloadType) return { ok: false, reason: 'malformed bundle', detail: `DSSE payload type ${e.payloadType}, expected ${payloadType}` };
  const sigs = Array.isArray(e.signatures) ? e.signatures : [];
  if (sigs.length === 0 || sigs.every((x) => !x?.sig)) return { ok: false, reason: 'unsigned', detail: 'the DSSE envelope has no signature' };
  if (sigs.length > 1) return { ok: false, reason: 'malformed bundle', detail: `the DSSE envelope has ${sigs.length} signatures, expected exactly one` };
  const sig = sigs[0]!;
  const b64 = /^[A-Za-z0-9+/]*={0,2}$/;
  if (typeof sig.sig !== 'string' || !b64.test(sig.sig) || !b64.test(e.payload)) return { ok: false, reason: 'malformed bundle', detail: 'the payload or signature is not base64' };
  const payload = Buffer.from(e.payload, 'base64');
  const bundle = toDSSEBundle({ artifact: payload, artifactType: e.payloadType, signature: Buffer.from(sig.sig, 'base64'), keyHint: typeof sig.keyid === 'string' ? sig.keyid : '' });
  const signer = signerOf(bundle, typeof sig.keyid === 'string' ? sig.keyid : '', trusted);
  return signer.ok ? { ok: true, keyHint: signer.keyHint, payload } : signer;
}

/**
 * Check a bundle read from a registry: signed by one of `trusted` (SPKI PEMs), over an in-toto
 * Statement of the cosign sign predicate whose subjects include `expected.digest`.
 */
export function verifyBundle(bundleBytes: Uint8Array | string | undefined, expected: { digest: string }, trusted: string[]): VerifyResult {
  const hex = checkDigest(expected.digest);
  if (bundleBytes === undefined || bundleBytes.length === 0) return fail('unsigned', 'no signature bundle');
  let bundle: Bundle;
  try {
    const json = JSON.parse(Buffer.from(bundleBytes).toString('utf8')) as { dsseEnvelope?: { signatures?: unknown } } | null;
    // an envelope with no signature is an unsigned bundle (the library's validation calls it invalid)
    const sigs = json?.dsseEnvelope?.signatures;
    if (json?.dsseEnvelope && (sigs === undefined || (Array.isArray(sigs) && sigs.length === 0))) return fail('unsigned', 'the DSSE envelope has no signature');
    bundle = bundleFromJSON(json);
  } catch (e) {
    return fail('malformed bundle', `not a Sigstore bundle: ${(e as Error).message}`);
  }
  if (bundle.mediaType !== BUNDLE_V03_MEDIA_TYPE && bundle.mediaType !== BUNDLE_V03_LEGACY_MEDIA_TYPE) {
    return fail('malformed bundle', `bundle media type ${bundle.mediaType}, expected ${BUNDLE_V03_MEDIA_TYPE}`);
  }
  if (bundle.content.$case !== 'dsseEnvelope') return fail('malformed bundle', `bundle content is a ${bundle.content.$case}, expected a DSSE envelope`);
  const env = bundle.content.dsseEnvelope;
  if (env.payloadType !== INTOTO_PAYLOAD_TYPE) return fail('malformed bundle', `DSSE payload type ${env.payloadType}, expected ${INTOTO_PAYLOAD_TYPE}`);
  if (env.signatures.length === 0 || env.signatures.every((s) => s.sig.length === 0)) return fail('unsigned', 'the DSSE envelope has no signature');
  if (env.signatures.length > 1) return fail('malformed bundle', `the DSSE envelope has ${env.signatures.length} signatures, a bundle has exactly one`);
  if (bundle.verificationMaterial.content.$case !== 'publicKey') {
    return fail('signed by an unknown key', `signed with a ${bundle.verificationMaterial.content.$case} (keyless), not one of the ${trusted.length} trusted key(s)`);
  }
  const signer = signerOf(bundle, bundle.verificationMaterial.content.publicKey.hint, trusted);
  if (!signer.ok) return signer;

  let statement: Statement;
  try {
    statement = JSON.parse(env.payload.toString('utf8')) as Statement;
  } catch {
    return fail('malformed bundle', 'the signed payload is not JSON');
  }
  if (statement?._type !== STATEMENT_TYPE || !Array.isArray(statement.subject)) return fail('malformed bundle', 'the signed payload is not an in-toto Statement v1');
  if (statement.predicateType !== SIGN_PREDICATE_TYPE) return fail('malformed bundle', `the statement's predicate type is ${String(statement.predicateType)}, not a signature (${SIGN_PREDICATE_TYPE})`);
  const signed = statement.subject.map((s) => s?.digest?.sha256).filter((d): d is string => typeof d === 'string');
  if (!signed.includes(hex)) return fail('signs another digest', `signs ${signed.map((d) => `sha256:${d}`).join(', ') || 'no sha256 digest'}, not ${expected.digest}`);
  return { ok: true, keyHint: signer.keyHint, statement };
}

/** The referrers tag of a digest (distribution-spec "Referrers Tag Schema"): `sha256:ab…` → `sha256-ab…`. */
export function referrersTag(digest: string): string {
  const i = digest.indexOf(':');
  if (i <= 0 || i === digest.length - 1) throw new TypeError(`not a digest: ${JSON.stringify(digest)}`);
  return `${digest.slice(0, i).slice(0, 32)}-${digest.slice(i + 1).slice(0, 64)}`.replace(/[^a-zA-Z0-9._-]/g, '-');
}

export interface Referrer {
  /** The referrer image manifest, to PUT by digest (`manifests/<digest>`). */
  manifest: { bytes: Buffer; descriptor: Descriptor };
  /** Its one layer: the bundle blob, to upload first. */
  layer: { bytes: Buffer; descriptor: Descriptor };
  /** The empty config blob, to upload first. */
  config: { bytes: Buffer; descriptor: Descriptor };
  /** Where the referrers-fallback index lives when the registry has no referrers API. */
  fallbackTag: string;
}

/**
 * The OCI 1.1 referrer manifest that attaches a bundle to an entry manifest. Its descriptor
 * (`manifest.descriptor`) carries the artifactType and annotations, as an entry of the referrers
 * API response and of the fallback index must. `created` adds org.opencontainers.image.created.
 */
export function referrerManifest(subject: { digest: string; size: number; mediaType: string }, bundleBytes: Uint8Array, opts: { created?: Date } = {}): Referrer {
  checkDigest(subject.digest);
  const layerBytes = Buffer.from(bundleBytes);
  const layer: Descriptor = { mediaType: BUNDLE_MEDIA_TYPE, digest: sha256Digest(layerBytes), size: layerBytes.length };
  const annotations: Record<string, string> = {
    'dev.sigstore.bundle.content': 'dsse-envelope',
    'dev.sigstore.bundle.predicateType': SIGN_PREDICATE_TYPE,
    ...(opts.created ? { 'org.opencontainers.image.created': opts.created.toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    artifactType: BUNDLE_MEDIA_TYPE,
    config: EMPTY_CONFIG,
    layers: [layer],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return {
    manifest: { bytes, descriptor: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: sha256Digest(bytes), size: bytes.length, artifactType: BUNDLE_MEDIA_TYPE, annotations } },
    layer: { bytes: layerBytes, descriptor: layer },
    config: { bytes: EMPTY_CONFIG_BYTES, descriptor: EMPTY_CONFIG },
    fallbackTag: referrersTag(subject.digest),
  };
}

/**
 * The bundle layer of a referrer manifest read back from a registry, when it is a signature of
 * `subjectDigest` in the layout above; otherwise why not (a registry lists other referrers too).
 */
export function bundleLayerOf(manifestBytes: Uint8Array, subjectDigest: string): { ok: true; layer: Descriptor } | { ok: false; detail: string } {
  let m: { artifactType?: unknown; subject?: { digest?: unknown }; layers?: unknown };
  try {
    m = JSON.parse(Buffer.from(manifestBytes).toString('utf8'));
  } catch {
    return { ok: false, detail: 'the referrer manifest is not JSON' };
  }
  if (m?.subject?.digest !== subjectDigest) return { ok: false, detail: `the referrer's subject is ${String(m?.subject?.digest)}, not ${subjectDigest}` };
  if (m.artifactType !== BUNDLE_MEDIA_TYPE) return { ok: false, detail: `artifact type ${String(m.artifactType)}, not a Sigstore bundle` };
  const layers = Array.isArray(m.layers) ? (m.layers as Descriptor[]) : [];
  const layer = layers[0];
  if (layers.length !== 1 || !layer || typeof layer.mediaType !== 'string' || !layer.mediaType.startsWith('application/vnd.dev.sigstore.bundle')) {
    return { ok: false, detail: 'a signature referrer has exactly one Sigstore bundle layer' };
  }
  if (typeof layer.digest !== 'string' || !DIGEST_RE.test(layer.digest) || !Number.isSafeInteger(layer.size) || layer.size < 0) {
    return { ok: false, detail: 'the bundle layer descriptor has no valid sha256 digest and size' };
  }
  return { ok: true, layer: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size } };
}

export class ReferrersIndexError extends Error {}

/**
 * The referrers-fallback index with `descriptor` added (distribution-spec "Pushing Manifests with
 * Subject"): GET the fallback tag (404: pass undefined), add, PUT the bytes back under the same tag
 * (conditionally, If-Match the ETag, where the registry supports it). A descriptor already listed
 * (same digest) leaves the index as it was: `changed` false, nothing to PUT. Throws
 * ReferrersIndexError when the tag holds something other than an image index.
 */
export function addToReferrersIndex(indexBytes: Uint8Array | undefined, descriptor: Descriptor): { bytes: Buffer; changed: boolean } {
  let index: { schemaVersion: number; mediaType: string; manifests: Descriptor[]; [k: string]: unknown };
  if (indexBytes === undefined || indexBytes.length === 0) {
    index = { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [] };
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(indexBytes).toString('utf8'));
    } catch {
      throw new ReferrersIndexError('the referrers tag holds something that is not JSON, not an image index');
    }
    const p = parsed as typeof index;
    if (!p || typeof p !== 'object' || p.schemaVersion !== 2 || p.mediaType !== OCI_INDEX_MEDIA_TYPE || !Array.isArray(p.manifests)) {
      throw new ReferrersIndexError(`the referrers tag holds ${p && typeof p === 'object' && typeof p.mediaType === 'string' ? `a ${p.mediaType}` : 'a document'}, not an OCI image index`);
    }
    index = p;
    if (index.manifests.some((d) => d && d.digest === descriptor.digest)) return { bytes: Buffer.from(indexBytes), changed: false };
  }
  index.manifests = [...index.manifests, { ...descriptor }];
  return { bytes: Buffer.from(JSON.stringify(index)), changed: true };
}
