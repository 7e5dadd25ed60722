// The transport of the remote stage cache: the parts of the OCI distribution API it needs,
// over undici, against any registry (distribution, ghcr.io, GitLab, Harbor, Zot, ...).
//   manifests: HEAD (does a tag exist, its digest), GET (by tag or digest, bytes verified), PUT
//   blobs:     HEAD (exists?), monolithic push (POST an upload, PUT its Location ?digest=), GET
//              streamed to a temp file beside the destination while hashing, renamed when right
// Every request has a deadline (the whole request, body included) and an inactivity timeout;
// every body read is capped. Anything that goes wrong (network, timeout, 4xx/5xx, wrong bytes)
// is a RemoteCacheError with a short reason: a remote cache never ends a build, the caller
// warns and builds the stage itself.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { interceptors, request, type Dispatcher } from 'undici';
import { classify, makeDispatcher, USER_AGENT } from '../fetch/download.ts';
import { fmtBytes } from '../format.ts';
import { ioError, isIoError } from '../ioerror.ts';
import { credentialsFor, RegistryAuth, scopeFor, type Credentials } from './auth.ts';
import { RemoteCacheError } from './errors.ts';
import { refText, type RemoteRef } from './ref.ts';

export { RemoteCacheError };

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

const DEFAULT_ACCEPT = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerList];

export const REMOTE_LIMITS = {
  /** no byte (or no response) for this long: the request is given up */
  timeoutMs: 30_000,
  /** one manifest or HEAD request, start to end */
  deadlineMs: 2 * 60_000,
  /** one blob upload or download, start to end */
  blobDeadlineMs: 30 * 60_000,
  /** the distribution registry's own limit for a manifest */
  maxManifestBytes: 4 * 1024 ** 2,
  /** a blob fetched without a known size */
  maxBlobBytes: 8 * 1024 ** 3,
};

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export interface OciClientOptions {
  ref: RemoteRef;
  /** default: credentialsFor(ref.host); null: anonymous */
  credentials?: Credentials | null;
  /** the dispatcher under the client (redirects are followed on top of it); default: an Agent honouring HTTP(S)_PROXY */
  dispatcher?: Dispatcher;
  timeoutMs?: number;
  deadlineMs?: number;
  blobDeadlineMs?: number;
  maxManifestBytes?: number;
  maxBlobBytes?: number;
  /** cancels every request (Ctrl-C): the abort is passed on as it is, not as a RemoteCacheError */
  signal?: AbortSignal;
}

export interface Manifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

type Body = Buffer | (() => Readable);

interface Req {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** a path under the registry (/v2/...) or an absolute URL (an upload Location) */
  url: string;
  headers?: Record<string, string>;
  body?: Body;
  push: boolean;
  deadlineMs: number;
  /** what is being done, for messages: "manifest latest" */
  what: string;
}

const digestOf = (algo: string, bytes: Buffer) => `${algo}:${createHash(algo).update(bytes).digest('hex')}`;

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 1000 ? 1 : 0)} s`;

export class OciClient {
  readonly ref: RemoteRef;
  /** host/repo, as messages name it */
  readonly target: string;
  private readonly dispatcher: Dispatcher;
  private readonly closeOwn?: () => Promise<void>;
  private readonly auth: RegistryAuth;
  private readonly timeoutMs: number;
  private readonly deadlineMs: number;
  private readonly blobDeadlineMs: number;
  private readonly maxManifestBytes: number;
  private readonly maxBlobBytes: number;
  private readonly signal?: AbortSignal;

  constructor(opts: OciClientOptions) {
    this.ref = opts.ref;
    this.target = refText(opts.ref);
    this.timeoutMs = opts.timeoutMs ?? REMOTE_LIMITS.timeoutMs;
    this.deadlineMs = opts.deadlineMs ?? REMOTE_LIMITS.deadlineMs;
    this.blobDeadlineMs = opts.blobDeadlineMs ?? REMOTE_LIMITS.blobDeadlineMs;
    this.maxManifestBytes = opts.maxManifestBytes ?? REMOTE_LIMITS.maxManifestBytes;
    this.maxBlobBytes = opts.maxBlobBytes ?? REMOTE_LIMITS.maxBlobBytes;
    this.signal = opts.signal;
    if (opts.dispatcher) {
      this.dispatcher = opts.dispatcher.compose(interceptors.redirect({ maxRedirections: 8 }));
    } else {
      const own = makeDispatcher(this.timeoutMs);
      this.dispatcher = own.dispatcher;
      this.closeOwn = own.close;
    }
    const creds = opts.credentials === null ? undefined : (opts.credentials ?? credentialsFor(opts.ref.host));
    this.auth = new RegistryAuth(this.target, !opts.ref.plainHttp, creds, (url, headers) => this.tokenGet(url, headers));
  }

  /** Close the connections this client opened (not a dispatcher it was given). */
  async close(): Promise<void> {
    await this.closeOwn?.();
  }

  private fail(reason: string, detail?: string, cause?: unknown): RemoteCacheError {
    return new RemoteCacheError(this.target, reason, detail, { cause });
  }

  /** A network error, timeout or deadline as a RemoteCacheError; the caller's own abort passes through. */
  private networkError(e: unknown, what: string, deadline: AbortSignal, deadlineMs: number): unknown {
    if (e instanceof RemoteCacheError) return e;
    if (this.signal?.aborted) return e;
    if (deadline.aborted) return this.fail('timeout', `${what}: not done within ${seconds(deadlineMs)}`, e);
    if (isIoError(e)) return ioError(e);
    const code = String((e as { code?: string })?.code ?? (e as { cause?: { code?: string } })?.cause?.code ?? '');
    if (/^(ERR_TLS|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/.test(code)) return this.fail('tls error', `${what}: ${code}`, e);
    const f = classify(this.ref.registry, e, this.timeoutMs);
    const reason = f.kind === 'timeout' ? 'timeout' : f.kind === 'unreachable' ? 'unreachable' : 'connection lost';
    return this.fail(reason, `${what}: ${f.reason}`, e);
  }

  private signalFor(deadlineMs: number): AbortSignal {
    const d = AbortSignal.timeout(deadlineMs);
    return this.signal ? AbortSignal.any([d, this.signal]) : d;
  }

  /** One request, with the challenge flow: anonymous (or what an earlier challenge asked for), then once more with the answer to a 401. */
  private async send(r: Req): Promise<{ res: Dispatcher.ResponseData; deadline: AbortSignal }> {
    const url = new URL(r.url, `${this.ref.registry}/`);
    const ours = url.origin === new URL(this.ref.registry).origin;
    const scope = scopeFor(this.ref.repository, r.push);
    const deadline = AbortSignal.timeout(r.deadlineMs);
    const signal = this.signal ? AbortSignal.any([deadline, this.signal]) : deadline;
    let authorization = ours ? await this.auth.header(scope) : undefined;
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...r.headers };
      if (authorization) headers.authorization = authorization;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          dispatcher: this.dispatcher,
          method: r.method,
          headers,
          body: typeof r.body === 'function' ? r.body() : r.body,
          signal,
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
        });
      } catch (e) {
        throw this.networkError(e, r.what, deadline, r.deadlineMs);
      }
      res.body.on('error', () => undefined);
      if (res.statusCode !== 401 || !ours) return { res, deadline };
      await this.drain(res);
      if (attempt > 1) throw this.auth.refused(scope, authorization);
      try {
        authorization = await this.auth.retryHeader(res.headers['www-authenticate'], scope, authorization);
      } catch (e) {
        throw this.networkError(e, `${r.what}: token`, deadline, r.deadlineMs);
      }
    }
  }

  private async drain(res: Dispatcher.ResponseData): Promise<void> {
    // a short body is read so the connection is kept; a long one is dropped
    try {
      let n = 0;
      for await (const c of res.body as AsyncIterable<Buffer>) {
        n += c.length;
        if (n > 64 * 1024) break;
      }
    } catch {
      // it is not wanted anyway
    }
    if (!res.body.destroyed) res.body.destroy();
  }

  /** The GET a token server gets (RegistryAuth): same dispatcher, deadline and cap. */
  private async tokenGet(url: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
    const deadline = this.signalFor(this.deadlineMs);
    try {
      const res = await request(url, {
        dispatcher: this.dispatcher,
        method: 'GET',
        headers: { 'user-agent': USER_AGENT, ...headers },
        signal: deadline,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      res.body.on('error', () => undefined);
      const bytes = await this.readCapped(res, 1024 ** 2, 'token');
      return { status: res.statusCode, text: bytes.toString('utf8') };
    } catch (e) {
      if (e instanceof RemoteCacheError) throw e;
      if (this.signal?.aborted) throw e;
      const f = classify(url, e, this.timeoutMs);
      const reason = f.kind === 'timeout' || (e as Error)?.name === 'TimeoutError' ? 'timeout' : f.kind === 'unreachable' ? 'unreachable' : 'connection lost';
      throw this.fail(reason, `token server ${new URL(url).origin}: ${f.reason}`, e);
    }
  }

  private async readCapped(res: Dispatcher.ResponseData, cap: number, what: string): Promise<Buffer> {
    const len = header(res.headers, 'content-length');
    if (len && /^\d+$/.test(len) && Number(len) > cap) {
      res.body.destroy();
      throw this.fail('too large', `${what}: ${len} bytes announced, more than ${fmtBytes(cap)}`);
    }
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of res.body as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > cap) {
        res.body.destroy();
        throw this.fail('too large', `${what}: more than ${fmtBytes(cap)}`);
      }
      parts.push(c);
    }
    return Buffer.concat(parts);
  }

  /** A status the operation did not expect, as an error (with the registry's own error code when it gives one). */
  private async statusError(res: Dispatcher.ResponseData, what: string): Promise<RemoteCacheError> {
    let detail = '';
    try {
      const text = (await this.readCapped(res, 16 * 1024, what)).toString('utf8');
      const j = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
      detail = (j.errors ?? [])
        .map((x) => [x.code, x.message].filter(Boolean).join(': '))
        .join('; ')
        .slice(0, 300);
    } catch {
      // no JSON error body
    }
    const s = res.statusCode;
    const reason = s === 401 ? 'unauthorized' : s === 403 ? 'denied' : s === 404 ? 'not found' : s === 413 ? 'too large' : `http ${s}`;
    return this.fail(reason, `${what}: HTTP ${s}${detail ? `: ${detail}` : ''}`);
  }

  private repoPath(kind: 'manifests' | 'blobs', ref: string): string {
    return `/v2/${this.ref.repository}/${kind}/${ref}`;
  }

  private checkDigest(d: string, what: string): void {
    if (!DIGEST.test(d)) throw this.fail('bad digest', `${what}: "${d}" is not a sha256:<64 hex> or sha512:<128 hex> digest`);
  }

  private checkRef(ref: string): 'digest' | 'tag' {
    if (ref.includes(':')) {
      this.checkDigest(ref, 'manifest');
      return 'digest';
    }
    if (!TAG.test(ref)) throw this.fail('bad tag', `"${ref}" is not a tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})`);
    return 'tag';
  }

  /** The digest a tag points to, or undefined when there is no such tag. */
  async manifestDigest(tag: string, accept: readonly string[] = DEFAULT_ACCEPT): Promise<string | undefined> {
    this.checkRef(tag);
    const what = `manifest ${tag}`;
    const { res } = await this.send({ method: 'HEAD', url: this.repoPath('manifests', tag), headers: { accept: accept.join(', ') }, push: false, deadlineMs: this.deadlineMs, what });
    await this.drain(res);
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw await this.statusError(res, what);
    const d = header(res.headers, 'docker-content-digest');
    if (d && DIGEST.test(d)) return d;
    // a registry that does not say the digest on HEAD: the manifest itself says it
    try {
      return (await this.getManifest(tag, accept)).digest;
    } catch (e) {
      if (e instanceof RemoteCacheError && e.notFound) return undefined;
      throw e;
    }
  }

  /** A manifest by tag or digest. Its bytes are checked against the digest asked for, and against the one the registry names. */
  async getManifest(refOrDigest: string, accept: readonly string[] = DEFAULT_ACCEPT): Promise<Manifest> {
    const kind = this.checkRef(refOrDigest);
    const what = `manifest ${refOrDigest}`;
    const { res, deadline } = await this.send({ method: 'GET', url: this.repoPath('manifests', refOrDigest), headers: { accept: accept.join(', ') }, push: false, deadlineMs: this.deadlineMs, what });
    if (res.statusCode !== 200) throw await this.statusError(res, what);
    let bytes: Buffer;
    try {
      bytes = await this.readCapped(res, this.maxManifestBytes, what);
    } catch (e) {
      throw this.networkError(e, what, deadline, this.deadlineMs);
    }
    const named = header(res.headers, 'docker-content-digest');
    const expected = kind === 'digest' ? refOrDigest : named && DIGEST.test(named) ? named : undefined;
    let digest = digestOf('sha256', bytes);
    if (expected) {
      const actual = digestOf(expected.split(':')[0]!, bytes);
      if (actual !== expected) throw this.fail('digest mismatch', `${what}: the registry sent bytes with digest ${actual}, not ${expected}`);
      digest = expected;
    }
    if (kind === 'digest' && named && DIGEST.test(named) && named !== refOrDigest) {
      throw this.fail('digest mismatch', `${what}: the registry names it ${named}`);
    }
    let mediaType = (header(res.headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!mediaType || mediaType === 'application/json' || mediaType === 'application/octet-stream' || mediaType === 'text/plain') {
      try {
        const m = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
        if (typeof m === 'string') mediaType = m;
      } catch {
        // not JSON: keep what the header said
      }
    }
    return { digest, mediaType, bytes };
  }

  /** Put a manifest under a tag; returns its digest (sha256 of the bytes, checked against the registry's). */
  async putManifest(tag: string, bytes: Buffer, mediaType: string): Promise<string> {
    this.checkRef(tag);
    const what = `manifest ${tag}`;
    const digest = digestOf('sha256', bytes);
    const { res } = await this.send({
      method: 'PUT',
      url: this.repoPath('manifests', tag),
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: bytes,
      push: true,
      deadlineMs: this.deadlineMs,
      what,
    });
    if (res.statusCode < 200 || res.statusCode > 299) throw await this.statusError(res, what);
    await this.drain(res);
    const named = header(res.headers, 'docker-content-digest');
    if (named && named.startsWith('sha256:') && named !== digest) throw this.fail('digest mismatch', `${what}: the registry stored it as ${named}, the bytes are ${digest}`);
    return digest;
  }

  /** Whether the repository has this blob. `push`: ask with push scope (the token is then reused for the upload). */
  async hasBlob(digest: string, push = false): Promise<boolean> {
    this.checkDigest(digest, 'blob');
    const what = `blob ${digest}`;
    const { res } = await this.send({ method: 'HEAD', url: this.repoPath('blobs', digest), push, deadlineMs: this.deadlineMs, what });
    await this.drain(res);
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw await this.statusError(res, what);
  }

  /**
   * Upload a blob (a file or bytes) unless the repository has it: one POST for an upload, one PUT
   * of the whole blob to its Location with ?digest=. The registry checks the digest; bytes given
   * as a Buffer are checked here first.
   */
  async pushBlob(digest: string, src: string | Buffer): Promise<{ uploaded: boolean; size: number }> {
    this.checkDigest(digest, 'blob');
    const what = `blob ${digest}`;
    let size: number;
    let body: Body;
    if (Buffer.isBuffer(src)) {
      const actual = digestOf(digest.split(':')[0]!, src);
      if (actual !== digest) throw this.fail('digest mismatch', `${what}: the bytes to push have digest ${actual}`);
      size = src.length;
      body = src;
    } else {
      try {
        size = (await stat(src)).size;
      } catch (e) {
        throw isIoError(e) ? ioError(e, { path: src }) : e;
      }
      body = () => createReadStream(src, { highWaterMark: 1 << 20 });
    }
    if (await this.hasBlob(digest, true)) return { uploaded: false, size };
    const started = await this.send({
      method: 'POST',
      url: `/v2/${this.ref.repository}/blobs/uploads/`,
      headers: { 'content-length': '0' },
      push: true,
      deadlineMs: this.deadlineMs,
      what: `${what}: upload`,
    });
    if (started.res.statusCode !== 202) throw await this.statusError(started.res, `${what}: upload`);
    await this.drain(started.res);
    const location = header(started.res.headers, 'location');
    if (!location) throw this.fail('bad response', `${what}: the upload was started without a Location`);
    let put: URL;
    try {
      put = new URL(location, `${this.ref.registry}/`);
    } catch {
      throw this.fail('bad response', `${what}: the upload Location "${location.slice(0, 200)}" is not a URL`);
    }
    if (put.protocol !== 'https:' && put.protocol !== 'http:') throw this.fail('bad response', `${what}: the upload Location is not http(s)`);
    put.searchParams.set('digest', digest);
    const { res } = await this.send({
      method: 'PUT',
      url: put.toString(),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
      push: true,
      deadlineMs: this.blobDeadlineMs,
      what: `${what}: upload`,
    });
    if (res.statusCode === 400) {
      const e = await this.statusError(res, `${what}: upload`);
      throw /DIGEST_INVALID/.test(e.message) ? this.fail('digest mismatch', e.message.replace(/^registry \S+: http 400 \((.*)\)$/, '$1')) : e;
    }
    if (res.statusCode !== 201 && res.statusCode !== 204 && res.statusCode !== 200) throw await this.statusError(res, `${what}: upload`);
    await this.drain(res);
    return { uploaded: true, size };
  }

  /**
   * Download a blob to destFile: streamed to a temp file beside it while hashed, renamed into place
   * only when its digest (and `size`, when given) is right; otherwise the temp file is removed.
   */
  async getBlob(digest: string, destFile: string, opts: { size?: number } = {}): Promise<{ size: number }> {
    this.checkDigest(digest, 'blob');
    const what = `blob ${digest}`;
    const cap = opts.size ?? this.maxBlobBytes;
    const { res, deadline } = await this.send({ method: 'GET', url: this.repoPath('blobs', digest), push: false, deadlineMs: this.blobDeadlineMs, what });
    if (res.statusCode !== 200) throw await this.statusError(res, what);
    const len = header(res.headers, 'content-length');
    if (len && /^\d+$/.test(len) && Number(len) > cap) {
      res.body.destroy();
      throw this.fail('too large', `${what}: ${len} bytes announced, ${opts.size !== undefined ? `the manifest says ${opts.size}` : `more than ${fmtBytes(cap)}`}`);
    }
    const dir = path.dirname(destFile);
    const tmp = path.join(dir, `.${path.basename(destFile)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.part`);
    const algo = digest.split(':')[0]!;
    const hash = createHash(algo);
    let n = 0;
    const self = this;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        n += chunk.length;
        if (n > cap) return cb(self.fail('too large', `${what}: more than ${opts.size !== undefined ? `the ${opts.size} bytes the manifest says` : fmtBytes(cap)}`));
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await mkdir(dir, { recursive: true });
      await pipeline(res.body, meter, createWriteStream(tmp, { flags: 'wx' }));
    } catch (e) {
      await rm(tmp, { force: true });
      if (!res.body.destroyed) res.body.destroy();
      if (isIoError(e) && !(e instanceof RemoteCacheError)) throw ioError(e, { path: tmp });
      throw this.networkError(e, what, deadline, this.blobDeadlineMs);
    }
    const actual = `${algo}:${hash.digest('hex')}`;
    if (actual !== digest || (opts.size !== undefined && n !== opts.size)) {
      await rm(tmp, { force: true });
      throw this.fail('digest mismatch', `${what}: the registry sent ${n} bytes with digest ${actual}`);
    }
    try {
      await rename(tmp, destFile);
    } catch (e) {
      await rm(tmp, { force: true });
      throw isIoError(e) ? ioError(e, { path: destFile }) : e;
    }
    return { size: n };
  }
}
