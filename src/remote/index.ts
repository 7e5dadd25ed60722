// The remote stage cache on OCI registries: what the runner's RemoteCache interface asks for
// (src/pipeline/runner.ts), built from the transport (oci.ts), the entry packing (entry.ts) and
// the signatures (sign.ts).
//
// One entry is one OCI artifact in the repository:
//   tag       <stage id, made tag-safe>-<key>          e.g. library_openssl-3f2a…(64 hex)
//   manifest  OCI image manifest, artifactType application/vnd.nginx-forge.stage.v1+json,
//             config: the empty descriptor, one layer: the packed entry (tar+gzip, entry.ts),
//             annotations: stage, key, kind, toolchain, plan hash, created (ENTRY_ANNOTATIONS)
//   signature a Sigstore bundle (cosign's layout, see sign.ts) attached to that manifest as a
//             referrer, listed in the referrers tag-schema fallback index `sha256-<hex>` (the
//             registries this must work with, ghcr.io and distribution 2.8, have no referrers API)
// Pull (for a stage the local cache lacks, kind accepted): manifest by tag; its annotations must
// name exactly this stage and key; a signature by a trusted key over exactly that manifest's
// digest; the layer fetched with its digest checked; the tree unpacked through the archive
// checks and taken in by StageCache.adopt (every byte against the entry's own manifest). Any
// failure is one warning line and the stage is built here. Push: what the registry lacks, after
// the build, signed; two pushers of one key each write a complete signed artifact, the tag ends
// on one of them, and the referrers index is re-read after each update until it lists ours.
import { tempDir } from '../tmpdirs.ts';
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { StageCache } from '../cache/index.ts';
import type { RemoteSettings } from '../flags/cache.ts';
import type { PlanStage } from '../plan.ts';
import type { RemoteCache } from '../pipeline/runner.ts';

import { sha256File } from '../hash.ts';
import { packEntry, unpackEntry } from './entry.ts';
import { MEDIA_TYPES, OciClient, RemoteCacheError } from './oci.ts';
import { parseRemoteRef } from './ref.ts';
import { addToReferrersIndex, bundleLayerOf, EMPTY_CONFIG, EMPTY_CONFIG_BYTES, referrerManifest, referrersTag, signManifestDigest, verifyBundle, type Descriptor } from './sign.ts';

export const ENTRY_ARTIFACT_TYPE = 'application/vnd.nginx-forge.stage.v1+json';
export const ENTRY_LAYER_TYPE = 'application/vnd.nginx-forge.stage.layer.v1.tar+gzip';
export const ENTRY_ANNOTATIONS = {
  stage: 'dev.nginx-forge.stage',
  key: 'dev.nginx-forge.key',
  kind: 'dev.nginx-forge.kind',
  planHash: 'dev.nginx-forge.plan-hash',
  toolchain: 'dev.nginx-forge.toolchain',
  created: 'org.opencontainers.image.created',
} as const;

/** The tag of a stage's entry: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. */
const sha256Buf = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export const entryTag = (stageId: string, key: string): string => `${stageId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60)}-${key}`;

/** Bytes moved, for the bench and the build summary. */
export interface RemoteStats {
  pulled: number;
  pulledBytes: number;
  pushed: number;
  pushedBytes: number;
}

interface EntryManifest {
  layers?: Descriptor[];
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** `registry HOST/REPO: STAGE: REASON` for what went wrong talking to a registry. */
const failureLine = (reg: OciClient, stage: string, e: unknown) => (e instanceof RemoteCacheError ? e.line(stage) : `registry ${reg.target}: ${stage}: ${(e as Error).message}`);

export class OciStageCache implements RemoteCache {
  readonly stats: RemoteStats = { pulled: 0, pulledBytes: 0, pushed: 0, pushedBytes: 0 };
  private readonly from: OciClient[];
  private readonly to?: OciClient;
  private readonly trusted: string[];
  private readonly signKey?: { privatePem: string; publicPem: string };

  constructor(
    readonly settings: RemoteSettings,
    private readonly context: { planHash: string; toolchain?: string } = { planHash: '' },
    clientOpts: { signal?: AbortSignal } = {},
  ) {
    const client = (value: string, flag: string) => new OciClient({ ref: parseRemoteRef(value, { flag, insecure: settings.insecure }), signal: clientOpts.signal });
    this.from = settings.from.map((v) => client(v, '--cache-from'));
    this.to = settings.to ? client(settings.to, '--cache-to') : undefined;
    this.trusted = settings.trust.map((f) => readFileSync(f, 'utf8'));
    if (settings.signKey) {
      const privatePem = readFileSync(settings.signKey, 'utf8');
      this.signKey = { privatePem, publicPem: createPublicKey(privatePem).export({ type: 'spki', format: 'pem' }).toString() };
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.from, ...(this.to ? [this.to] : [])].map((c) => c.close()));
  }

  async pull(st: PlanStage, cache: StageCache, signal: AbortSignal, warn: (line: string) => void): Promise<{ dir: string; from: string } | undefined> {
    if (!this.settings.kinds.includes(st.kind)) return undefined;
    for (const reg of this.from) {
      if (signal.aborted) throw signal.reason;
      try {
        const got = await this.pullFrom(reg, st, cache);
        if (got.dir) return { dir: got.dir, from: `oci://${reg.target}` };
        if (got.refused) warn(`registry ${reg.target}: ${st.id}: ${got.refused}; building it here`);
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        warn(`${failureLine(reg, st.id, e)}; building it here`);
      }
    }
    return undefined;
  }

  private async pullFrom(reg: OciClient, st: PlanStage, cache: StageCache): Promise<{ dir?: string; refused?: string }> {
    const tag = entryTag(st.id, st.key);
    const digest = await reg.manifestDigest(tag, [MEDIA_TYPES.ociManifest]);
    if (!digest) return {}; // not there: a miss, no warning
    const m = await reg.getManifest(digest, [MEDIA_TYPES.ociManifest]);
    let manifest: EntryManifest;
    try {
      manifest = JSON.parse(m.bytes.toString('utf8')) as EntryManifest;
    } catch {
      return { refused: 'the entry manifest is not JSON' };
    }
    const a = manifest.annotations ?? {};
    if (manifest.artifactType !== ENTRY_ARTIFACT_TYPE) return { refused: `not a stage-cache entry (artifactType ${manifest.artifactType ?? 'none'})` };
    if (a[ENTRY_ANNOTATIONS.stage] !== st.id || a[ENTRY_ANNOTATIONS.key] !== st.key) {
      return { refused: `the entry under tag ${tag} names stage ${a[ENTRY_ANNOTATIONS.stage] ?? '?'} key ${a[ENTRY_ANNOTATIONS.key] ?? '?'}` };
    }
    const layer = manifest.layers?.length === 1 ? manifest.layers[0]! : undefined;
    if (!layer || layer.mediaType !== ENTRY_LAYER_TYPE) return { refused: 'the entry manifest does not have exactly one entry layer' };
    // the signature: a trusted key over exactly this manifest's digest
    const verdict = await this.signatureOf(reg, m.digest);
    if (!verdict.ok) return { refused: verdict.reason };
    const tmp = tempDir('pull');
    try {
      const file = path.join(tmp, 'entry.tar.gz');
      await reg.getBlob(layer.digest, file, { size: layer.size });
      const r = await unpackEntry(cache, st.id, st.key, file);
      if ('refused' in r) return { refused: `the entry is not what its manifest records: ${r.refused.problem}` };
      this.stats.pulled++;
      this.stats.pulledBytes += layer.size + m.bytes.length;
      return { dir: r.dir };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** Whether a trusted key signed this manifest digest (the referrers fallback index lists the bundles). */
  private async signatureOf(reg: OciClient, digest: string): Promise<{ ok: true } | { ok: false; reason: string }> {
    let index: { manifests?: Descriptor[] };
    try {
      index = JSON.parse((await reg.getManifest(referrersTag(digest), [MEDIA_TYPES.ociIndex])).bytes.toString('utf8')) as { manifests?: Descriptor[] };
    } catch (e) {
      if (e instanceof RemoteCacheError && e.notFound) return { ok: false, reason: 'unsigned (no signature is attached to the entry)' };
      throw e;
    }
    let last = 'unsigned (no signature bundle among its referrers)';
    for (const d of index.manifests ?? []) {
      if (d.artifactType !== undefined && d.artifactType !== 'application/vnd.dev.sigstore.bundle.v0.3+json') continue;
      const ref = await reg.getManifest(d.digest, [MEDIA_TYPES.ociManifest]);
      const layer = bundleLayerOf(ref.bytes, digest);
      if (!layer.ok) continue;
      const tmp = tempDir('sig');
      try {
        const file = path.join(tmp, 'bundle.json');
        await reg.getBlob(layer.layer.digest, file, { size: layer.layer.size });
        const v = verifyBundle(readFileSync(file), { digest }, this.trusted);
        if (v.ok) return { ok: true };
        last = `${v.reason} (${v.detail})`;
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    return { ok: false, reason: last };
  }

  async push(st: PlanStage, dir: string, signal: AbortSignal, warn: (line: string) => void): Promise<void> {
    const reg = this.to;
    if (!reg || !this.signKey) return;
    // distribution's filesystem storage answers 500 now and then when two pushers commit the
    // same blob or tag at the same moment (measured: 1 push in ~4 runs of two racing pushers);
    // the other pusher's write is complete by then, so the push is tried once more
    for (let attempt = 1; ; attempt++) {
      try {
        await this.pushOnce(reg, st, dir, signal);
        return;
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (attempt < 3 && e instanceof RemoteCacheError && /^http 5/.test(e.reason)) continue;
        warn(`${failureLine(reg, st.id, e)}; not pushed`);
        return;
      }
    }
  }

  private async pushOnce(reg: OciClient, st: PlanStage, dir: string, signal: AbortSignal): Promise<void> {
    {
      const tag = entryTag(st.id, st.key);
      if (await reg.manifestDigest(tag, [MEDIA_TYPES.ociManifest])) return; // the registry has it
      const tmp = tempDir('push');
      try {
        const file = path.join(tmp, 'entry.tar.gz');
        const { size } = await packEntry(dir, file);
        const layerDigest = `sha256:${sha256File(file)}`;
        await reg.pushBlob(EMPTY_CONFIG.digest, EMPTY_CONFIG_BYTES);
        const up = await reg.pushBlob(layerDigest, file);
        const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>;
        const annotations: Record<string, string> = {
          [ENTRY_ANNOTATIONS.stage]: st.id,
          [ENTRY_ANNOTATIONS.key]: st.key,
          [ENTRY_ANNOTATIONS.kind]: st.kind,
          [ENTRY_ANNOTATIONS.planHash]: this.context.planHash,
          [ENTRY_ANNOTATIONS.created]: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
          ...(typeof meta.toolchain === 'string' ? { [ENTRY_ANNOTATIONS.toolchain]: meta.toolchain } : this.context.toolchain ? { [ENTRY_ANNOTATIONS.toolchain]: this.context.toolchain } : {}),
        };
        const manifest = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: MEDIA_TYPES.ociManifest,
            artifactType: ENTRY_ARTIFACT_TYPE,
            config: EMPTY_CONFIG,
            layers: [{ mediaType: ENTRY_LAYER_TYPE, digest: layerDigest, size }],
            annotations,
          }),
        );
        // the manifest goes in by digest first, signed, and gets its tag last: a puller never
        // finds a tag whose signature is not there yet
        const digest = await reg.putManifest(`sha256:${sha256Buf(manifest)}`, manifest, MEDIA_TYPES.ociManifest);
        await this.sign(reg, { digest, size: manifest.length, mediaType: MEDIA_TYPES.ociManifest }, signal);
        await reg.putManifest(tag, manifest, MEDIA_TYPES.ociManifest);
        this.stats.pushed++;
        this.stats.pushedBytes += (up.uploaded ? size : 0) + manifest.length;
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
  }

  private async sign(reg: OciClient, subject: { digest: string; size: number; mediaType: string }, signal: AbortSignal): Promise<void> {
    const { bytes } = signManifestDigest({ digest: subject.digest, mediaType: subject.mediaType }, this.signKey!.privatePem, this.signKey!.publicPem);
    const ref = referrerManifest(subject, bytes, { created: new Date() });
    await reg.pushBlob(ref.config.descriptor.digest, ref.config.bytes);
    await reg.pushBlob(ref.layer.descriptor.digest, ref.layer.bytes);
    await reg.putManifest(ref.manifest.descriptor.digest, ref.manifest.bytes, MEDIA_TYPES.ociManifest);
    // the referrers fallback index: read, add, write; re-read until it lists ours (another pusher
    // of the same entry may have written its own version in between)
    for (let attempt = 0; attempt < 6; attempt++) {
      if (signal.aborted) throw signal.reason;
      let current: Buffer | undefined;
      try {
        current = (await reg.getManifest(ref.fallbackTag, [MEDIA_TYPES.ociIndex])).bytes;
      } catch (e) {
        if (!(e instanceof RemoteCacheError && e.notFound)) throw e;
      }
      const next = addToReferrersIndex(current, ref.manifest.descriptor);
      if (!next.changed) return;
      await reg.putManifest(ref.fallbackTag, next.bytes, MEDIA_TYPES.ociIndex);
    }
    throw new RemoteCacheError(reg.target, 'index contention', `the referrers index ${ref.fallbackTag} kept changing under us`);
  }
}

/** The remote cache of a build, or undefined when none is configured. */
export function remoteCacheOf(settings: RemoteSettings | undefined, context: { planHash: string; toolchain?: string }, signal?: AbortSignal): OciStageCache | undefined {
  if (!settings || (settings.from.length === 0 && !settings.to)) return undefined;
  return new OciStageCache(settings, context, { signal });
}

