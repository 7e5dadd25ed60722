// One source → one verified temp file. Streams with undici, hashes while streaming, resumes an
// interrupted download with `Range: bytes=N-` (re-hashing the kept prefix first), retries with
// exponential backoff on transient failures and gives up on a source at once when retrying cannot
// help (404, wrong bytes, an HTML page, an unresolvable host).
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, EnvHttpProxyAgent, interceptors, request, type Dispatcher } from 'undici';
import { HashMismatchError } from '../errors.ts';
import { sleep, type StoreKey } from './store.ts';

export const USER_AGENT = 'nginx-forge/0.1.0 (+verified source fetcher)';

export type FailureKind = 'not-found' | 'mismatch' | 'html' | 'http' | 'timeout' | 'network' | 'unreachable' | 'size';

/** Why one source did not deliver. `retryable` failures are retried on the same source first. */
export class SourceFailure extends Error {
  constructor(
    readonly url: string,
    readonly kind: FailureKind,
    readonly reason: string,
    readonly retryable: boolean,
    readonly detail?: Error,
  ) {
    super(`${url}: ${reason}`);
  }
}

export interface DownloadContext {
  dispatcher: Dispatcher;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  signal?: AbortSignal;
  onProgress?: (e: { file: string; received: number; total?: number; source: string }) => void;
  onLog?: (line: string) => void;
}

/** A dispatcher with redirects followed and the connect timeout set; honours HTTP(S)_PROXY/NO_PROXY. */
export function makeDispatcher(timeoutMs: number): { dispatcher: Dispatcher; close: () => Promise<void> } {
  const connect = { timeout: Math.min(timeoutMs, 15_000) };
  const env = process.env;
  const proxied = env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy;
  const base: Dispatcher = proxied ? new EnvHttpProxyAgent({ connect }) : new Agent({ connect, keepAliveTimeout: 4_000 });
  return {
    dispatcher: base.compose(interceptors.redirect({ maxRedirections: 8 })),
    close: () => base.close().catch(() => undefined),
  };
}

/** True for bytes that look like the start of an HTML document. */
export function looksLikeHtml(head: Buffer): boolean {
  const s = head.subarray(0, 512).toString('latin1').replace(/^\uFEFF/, '').trimStart().toLowerCase();
  return s.startsWith('<!doctype') || s.startsWith('<html') || s.startsWith('<head') || s.startsWith('<?xml');
}

const htmlReason = (file: string) => `got an HTML page, not ${file}: probably an error or login page`;

function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return Boolean(signal?.aborted) || (e as Error)?.name === 'AbortError';
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 1000 ? 1 : 0)} s`;

/** Map a low-level error to a SourceFailure. */
export function classify(url: string, e: unknown, timeoutMs: number): SourceFailure {
  if (e instanceof SourceFailure) return e;
  const err = e as Error & { code?: string; cause?: { code?: string; message?: string } };
  const code = err.code ?? err.cause?.code ?? '';
  const msg = err.message || String(e);
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new SourceFailure(url, 'timeout', `no response for ${seconds(timeoutMs)} (timed out)`, true, err);
    case 'UND_ERR_BODY_TIMEOUT':
      return new SourceFailure(url, 'timeout', `stalled: no data for ${seconds(timeoutMs)} (timed out)`, true, err);
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new SourceFailure(url, 'timeout', `could not connect within ${seconds(Math.min(timeoutMs, 15_000))} (timed out)`, true, err);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return new SourceFailure(url, 'unreachable', `cannot resolve the host name (${code}); no network or DNS for it`, false, err);
    case 'ECONNREFUSED':
      return new SourceFailure(url, 'unreachable', 'connection refused (ECONNREFUSED)', false, err);
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return new SourceFailure(url, 'unreachable', `network unreachable (${code})`, false, err);
    case 'UND_ERR_MAX_REDIRECTIONS':
      return new SourceFailure(url, 'http', 'too many redirects', false, err);
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return new SourceFailure(url, 'network', `connection lost (${code}: ${msg})`, true, err);
    default:
      return new SourceFailure(url, 'network', code ? `${code}: ${msg}` : msg, true, err);
  }
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

async function hashPrefix(file: string, size: number, signal?: AbortSignal): Promise<Hash> {
  const h = createHash('sha256');
  if (size === 0) return h;
  for await (const chunk of createReadStream(file, { start: 0, end: size - 1, signal, highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h;
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** What a download is checked against; without sha256 the caller verifies the bytes (e.g. by tree hash). */
export type DownloadTarget = Omit<StoreKey, 'sha256'> & { sha256?: string };

export interface Downloaded {
  sha256: string;
  size: number;
  /** Bytes actually transferred by this call (0 when a complete partial file was reused). */
  transferred: number;
}

/**
 * One attempt against one source: leaves `part` complete and verified, or throws SourceFailure.
 * A partial file left by an earlier interrupted attempt is continued with a Range request.
 */
async function attemptHttp(url: string, a: DownloadTarget, part: string, ctx: DownloadContext): Promise<Downloaded> {
  let offset = await sizeOf(part);
  if (a.size !== undefined && offset > a.size) {
    await rm(part, { force: true });
    offset = 0;
  }
  let hash = await hashPrefix(part, offset, ctx.signal);
  if (offset > 0 && a.size !== undefined && offset === a.size) {
    // an earlier attempt got every byte but did not finish; check it without asking the network
    if (a.sha256 !== undefined && hash.copy().digest('hex') === a.sha256) return { sha256: a.sha256, size: offset, transferred: 0 };
    await rm(part, { force: true });
    offset = 0;
    hash = createHash('sha256');
  }
  let resumedFrom = offset;
  const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity' };
  if (offset > 0) {
    headers.range = `bytes=${offset}-`;
    ctx.onLog?.(`${a.file}: resuming ${url} at byte ${offset}`);
  } else {
    ctx.onLog?.(`${a.file}: trying ${url}`);
  }
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      dispatcher: ctx.dispatcher,
      method: 'GET',
      headers,
      signal: ctx.signal,
      headersTimeout: ctx.timeoutMs,
      bodyTimeout: ctx.timeoutMs,
    });
  } catch (e) {
    if (isAbort(e, ctx.signal)) throw e;
    throw classify(url, e, ctx.timeoutMs);
  }
  const { statusCode: status, body } = res;
  body.on('error', () => undefined); // destroying an unread body emits an AbortError
  const drop = () => void (body.destroyed || body.destroy());
  if (status === 404 || status === 410) {
    drop();
    throw new SourceFailure(url, 'not-found', `HTTP ${status} (not there)`, false);
  }
  if (status === 416 && offset > 0) {
    drop();
    await rm(part, { force: true });
    throw new SourceFailure(url, 'http', `HTTP 416: server refused to resume at byte ${offset}; starting over`, true);
  }
  if (status === 408 || status === 429 || status >= 500) {
    drop();
    throw new SourceFailure(url, 'http', `HTTP ${status} (server error)`, true);
  }
  if (status !== 200 && status !== 206) {
    drop();
    throw new SourceFailure(url, 'http', `HTTP ${status}`, false);
  }
  const ctype = header(res.headers, 'content-type') ?? '';
  if (/^\s*text\/html/i.test(ctype) && !/\.html?$/i.test(a.file)) {
    drop();
    throw new SourceFailure(url, 'html', `${htmlReason(a.file)} (Content-Type: ${ctype})`, false);
  }
  let expectedTotal: number | undefined;
  const clen = header(res.headers, 'content-length');
  if (status === 206) {
    const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(header(res.headers, 'content-range') ?? '');
    if (!m || Number(m[1]) !== offset) {
      drop();
      await rm(part, { force: true });
      throw new SourceFailure(url, 'http', `HTTP 206 with an unexpected Content-Range "${header(res.headers, 'content-range') ?? ''}"; starting over`, true);
    }
    if (m[3] !== '*') expectedTotal = Number(m[3]);
  } else {
    if (offset > 0) {
      ctx.onLog?.(`${a.file}: ${url} ignored the Range request (HTTP 200); restarting from byte 0`);
      await truncate(part, 0);
      offset = 0;
      resumedFrom = 0;
      hash = createHash('sha256');
    }
    if (clen !== undefined && /^\d+$/.test(clen)) expectedTotal = Number(clen);
  }
  if (a.size !== undefined && expectedTotal !== undefined && expectedTotal !== a.size) {
    // not the pinned file; one look at its first bytes says whether it is an error page
    let head: Buffer | undefined;
    if (offset === 0) {
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          head = chunk;
          break;
        }
      } catch {
        // the size is reason enough
      }
    }
    drop();
    if (head && looksLikeHtml(head) && !/\.html?$/i.test(a.file)) throw new SourceFailure(url, 'html', htmlReason(a.file), false);
    throw new SourceFailure(url, 'size', `server has ${expectedTotal} bytes, the recipe pins ${a.size}: not the pinned file`, false);
  }
  const total = a.size ?? expectedTotal;
  await mkdir(path.dirname(part), { recursive: true });
  const fh = await open(part, offset > 0 ? 'a' : 'w');
  let received = offset;
  let first = offset === 0;
  let sniffedHtml = false;
  try {
    ctx.onProgress?.({ file: a.file, received, total, source: url });
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (first) {
        first = false;
        if (looksLikeHtml(chunk) && !/\.html?$/i.test(a.file)) {
          sniffedHtml = true;
          break;
        }
      }
      hash.update(chunk);
      await fh.write(chunk);
      received += chunk.length;
      if (a.size !== undefined && received > a.size) {
        throw new SourceFailure(url, 'size', `server sent more than the pinned ${a.size} bytes: not the pinned file`, false);
      }
      ctx.onProgress?.({ file: a.file, received, total, source: url });
    }
  } catch (e) {
    await fh.close().catch(() => undefined);
    drop();
    if (e instanceof SourceFailure) {
      await rm(part, { force: true });
      throw e;
    }
    if (isAbort(e, ctx.signal)) throw e;
    const f = classify(url, e, ctx.timeoutMs);
    // keep the partial file: the next attempt resumes it
    throw new SourceFailure(url, f.kind, `${f.reason} after ${received} bytes${total ? ` of ${total}` : ''}`, f.retryable, f.detail);
  }
  await fh.sync().catch(() => undefined);
  await fh.close();
  if (sniffedHtml) {
    drop();
    await rm(part, { force: true });
    throw new SourceFailure(url, 'html', htmlReason(a.file), false);
  }
  const want = expectedTotal ?? a.size;
  if (want !== undefined && received < want) {
    throw new SourceFailure(url, 'network', `connection closed after ${received} of ${want} bytes`, true);
  }
  const actual = hash.digest('hex');
  if (a.sha256 !== undefined && actual !== a.sha256) {
    await rm(part, { force: true });
    const mm = new HashMismatchError(url, a.sha256, actual, a.file);
    if (resumedFrom > 0) {
      // the kept prefix may have come from a bad earlier source: one clean retry from byte 0
      throw new SourceFailure(url, 'mismatch', `${mm.message}\n  (download was resumed at byte ${resumedFrom}; retrying from 0)`, true, mm);
    }
    throw new SourceFailure(url, 'mismatch', mm.message, false, mm);
  }
  return { sha256: actual, size: received, transferred: received - resumedFrom };
}

/** Copy from a local mirror directory (file:// URL or path); same verification as HTTP. */
async function attemptLocal(url: string, a: DownloadTarget, part: string, ctx: DownloadContext): Promise<Downloaded> {
  const file = url.startsWith('file:') ? fileURLToPath(url) : url;
  ctx.onLog?.(`${a.file}: trying ${file}`);
  let st;
  try {
    st = await stat(file);
  } catch {
    throw new SourceFailure(url, 'not-found', 'no such file', false);
  }
  if (a.size !== undefined && st.size !== a.size) throw new SourceFailure(url, 'size', `file has ${st.size} bytes, the recipe pins ${a.size}`, false);
  await mkdir(path.dirname(part), { recursive: true });
  const h = createHash('sha256');
  const fh = await open(part, 'w');
  let received = 0;
  try {
    for await (const chunk of createReadStream(file, { signal: ctx.signal, highWaterMark: 1 << 20 })) {
      h.update(chunk as Buffer);
      await fh.write(chunk as Buffer);
      received += (chunk as Buffer).length;
      ctx.onProgress?.({ file: a.file, received, total: st.size, source: url });
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  const actual = h.digest('hex');
  if (a.sha256 !== undefined && actual !== a.sha256) {
    await rm(part, { force: true });
    throw new SourceFailure(url, 'mismatch', new HashMismatchError(url, a.sha256, actual, a.file).message, false);
  }
  return { sha256: actual, size: received, transferred: received };
}

export const isLocalSource = (url: string) => url.startsWith('file:') || url.startsWith('/');

/** All attempts against one source (1 + retries), with exponential backoff between them. */
export async function downloadFrom(url: string, a: DownloadTarget, part: string, ctx: DownloadContext): Promise<Downloaded> {
  if (isLocalSource(url)) return attemptLocal(url, a, part, ctx);
  let redone = false;
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptHttp(url, a, part, ctx);
    } catch (e) {
      if (isAbort(e, ctx.signal)) throw e;
      const f = classify(url, e, ctx.timeoutMs);
      if (f.kind === 'mismatch' && f.retryable && !redone) {
        // a resumed download failed verification: the kept prefix is suspect, not this source;
        // one fresh download from byte 0 does not count as a retry
        redone = true;
        attempt--;
        ctx.onLog?.(`${a.file}: ${f.reason.split('\n').join(' ')}`);
        continue;
      }
      if (!f.retryable || attempt >= ctx.retries) throw f;
      const delay = Math.min(ctx.backoffMs * 2 ** attempt, 15_000);
      ctx.onLog?.(`${a.file}: ${url}: ${f.reason}; retry ${attempt + 1}/${ctx.retries} in ${seconds(delay)}`);
      await sleep(delay, ctx.signal);
    }
  }
}
