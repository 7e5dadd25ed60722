// One source → one verified temp file. Streams with undici, hashes while streaming, resumes an
// interrupted download with `Range: bytes=N-` (re-hashing the kept prefix first), retries with
// exponential backoff on transient failures and gives up on a source at once when retrying cannot
// help (404, wrong bytes, an HTML page, an unresolvable host).
import { createHash, type Hash } from 'node:crypto';
import { constants as fsConstants, createReadStream, type Stats } from 'node:fs';
import { mkdir, open, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, EnvHttpProxyAgent, interceptors, request, type Dispatcher } from 'undici';
import { HashMismatchError, IoError } from '../errors.ts';
import { ioError, isIoError } from '../ioerror.ts';
import { fmtBytes } from '../format.ts';
import { sleep, type StoreKey } from './store.ts';

export const USER_AGENT = 'nginx-forge/0.1.0 (+verified source fetcher)';

export type FailureKind = 'not-found' | 'mismatch' | 'html' | 'http' | 'timeout' | 'network' | 'unreachable' | 'size' | 'slow';

/** Limits of one download (FetchOptions can change them; README "Sources, mirrors and offline use"). */
export const DOWNLOAD_LIMITS = {
  /** an artifact without a pinned size may not be larger than this */
  maxBytes: 512 * 1024 ** 2,
  /** all attempts against one source together, then the next source */
  deadlineMs: 20 * 60_000,
  /** a source slower than this (bytes/s) over `minRateWindowMs` is given up for the next one */
  minRateBytes: 8 * 1024,
  minRateWindowMs: 60_000,
};

export { fmtBytes };

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
  /** cap for artifacts without a pinned size (a pinned size is always the cap) */
  maxBytes?: number;
  /** total time for all attempts against one source */
  deadlineMs?: number;
  minRateBytes?: number;
  minRateWindowMs?: number;
  /** when the current source was first tried (set by downloadFrom) */
  sourceStarted?: number;
}

/**
 * Watches one attempt: aborts it (with a non-retryable SourceFailure, so the next source is tried)
 * when the source's deadline passes or the transfer rate over the last window stays below the
 * minimum. Checked on a timer, so a server that sends nothing at all, or 1 byte a second (which
 * never trips the inactivity timeout), is caught too.
 */
function watchdog(url: string, ctx: DownloadContext, received: () => number) {
  const local = new AbortController();
  const deadline = ctx.deadlineMs ?? DOWNLOAD_LIMITS.deadlineMs;
  const minRate = ctx.minRateBytes ?? DOWNLOAD_LIMITS.minRateBytes;
  const win = ctx.minRateWindowMs ?? DOWNLOAD_LIMITS.minRateWindowMs;
  const sourceStarted = ctx.sourceStarted ?? Date.now();
  const started = Date.now();
  const samples: { t: number; n: number }[] = [{ t: started, n: received() }];
  const tick = Math.max(20, Math.min(1000, Math.floor(win / 4), Math.floor(deadline / 4)));
  const timer = setInterval(() => {
    const now = Date.now();
    const n = received();
    if (now - sourceStarted > deadline) {
      local.abort(new SourceFailure(url, 'timeout', `gave up after ${seconds(now - sourceStarted)}, the deadline per source (${fmtBytes(n)} received)`, false));
      return;
    }
    samples.push({ t: now, n });
    while (samples.length > 2 && samples[1]!.t <= now - win) samples.shift();
    const old = samples[0]!;
    if (minRate > 0 && now - started >= win && now - old.t >= win) {
      const rate = ((n - old.n) * 1000) / (now - old.t);
      if (rate < minRate) {
        local.abort(new SourceFailure(url, 'slow', `too slow: ${fmtBytes(Math.round(rate))}/s over the last ${seconds(now - old.t)} (minimum ${fmtBytes(minRate)}/s)`, false));
      }
    }
  }, tick);
  timer.unref?.();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, local.signal]) : local.signal;
  return {
    signal,
    /** the watchdog's own failure, when it ended the attempt */
    failure: () => (local.signal.aborted && !ctx.signal?.aborted ? (local.signal.reason as SourceFailure) : undefined),
    stop: () => clearInterval(timer),
  };
}

const MAX_REDIRECTIONS = 8;

/** A dispatcher with redirects followed and the connect timeout set; honours HTTP(S)_PROXY/NO_PROXY. */
export function makeDispatcher(timeoutMs: number): { dispatcher: Dispatcher; close: () => Promise<void> } {
  const connect = { timeout: Math.min(timeoutMs, 15_000) };
  const env = process.env;
  const proxied = env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy;
  const base: Dispatcher = proxied ? new EnvHttpProxyAgent({ connect }) : new Agent({ connect, keepAliveTimeout: 4_000 });
  return {
    dispatcher: base.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS })),
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
      return new SourceFailure(url, 'http', `too many redirects (more than ${MAX_REDIRECTIONS}): not a download URL, or a redirect loop`, false, err);
    case 'UND_ERR_INVALID_ARG':
      // undici's redirect interceptor says "Redirect loop detected. ... Use an Agent ...": meant for developers
      if (/redirect loop/i.test(msg)) return new SourceFailure(url, 'http', 'a redirect loop: it leads back to a URL it already redirected from', false, err);
      return new SourceFailure(url, 'network', `${code}: ${msg}`, false, err);
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
  let received = 0;
  const wd = watchdog(url, ctx, () => received);
  try {
    return await attemptHttpWatched(url, a, part, { ...ctx, signal: wd.signal }, (n) => (received = n));
  } catch (e) {
    const f = wd.failure();
    if (f) {
      const kept = await sizeOf(part);
      throw new SourceFailure(f.url, f.kind, `${f.reason}${kept ? `; ${fmtBytes(kept)} kept for resuming` : ''}`, false);
    }
    throw e;
  } finally {
    wd.stop();
  }
}

async function attemptHttpWatched(url: string, a: DownloadTarget, part: string, ctx: DownloadContext, onReceived: (n: number) => void): Promise<Downloaded> {
  const cap = a.size ?? ctx.maxBytes ?? DOWNLOAD_LIMITS.maxBytes;
  const capReason = (n: number) =>
    a.size !== undefined
      ? `server sent more than the pinned ${a.size} bytes: not the pinned file`
      : `more than ${fmtBytes(cap)} (${n} bytes so far), the cap for an artifact without a pinned size: an endless or wrong response; pin "size" in the recipe if the file really is this large`;
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
  if (status >= 300 && status < 400 && header(res.headers, 'location')) {
    // the redirect interceptor hands back the last redirect once it has followed its maximum
    drop();
    throw new SourceFailure(url, 'http', `too many redirects (more than ${MAX_REDIRECTIONS}): not a download URL, or a redirect loop`, false);
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
  if (a.size === undefined && expectedTotal !== undefined && expectedTotal > cap) {
    drop();
    throw new SourceFailure(url, 'size', `server announces ${expectedTotal} bytes, ${capReason(expectedTotal).replace(/^more than/, 'more than')}`, false);
  }
  const total = a.size ?? expectedTotal;
  await mkdir(path.dirname(part), { recursive: true });
  const fh = await open(part, offset > 0 ? 'a' : 'w');
  let received = offset;
  onReceived(received);
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
      if (received + chunk.length > cap) throw new SourceFailure(url, 'size', capReason(received + chunk.length), false);
      hash.update(chunk);
      await fh.write(chunk);
      received += chunk.length;
      onReceived(received);
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
    // writing the partial file failed (disk full, read-only): the store's problem, not the source's
    if (isIoError(e)) throw ioError(e, { path: part });
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
  // only a regular file: a device (/dev/zero) never ends, a FIFO blocks the open until a writer comes
  const notRegular = (st: Stats) =>
    st.isFile()
      ? undefined
      : new SourceFailure(url, 'size', `not a regular file (${st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket' : 'a special file'})`, false);
  let st: Stats;
  try {
    st = await stat(file);
  } catch {
    throw new SourceFailure(url, 'not-found', 'no such file', false);
  }
  const special = notRegular(st);
  if (special) throw special;
  if (a.size !== undefined && st.size !== a.size) throw new SourceFailure(url, 'size', `file has ${st.size} bytes, the recipe pins ${a.size}`, false);
  const cap = a.size ?? ctx.maxBytes ?? DOWNLOAD_LIMITS.maxBytes;
  const capReason = (n: number) =>
    a.size !== undefined ? `file has more than the pinned ${a.size} bytes (it grew while it was read)` : `file has ${n} bytes, more than ${fmtBytes(cap)}, the cap for an artifact without a pinned size`;
  if (st.size > cap) throw new SourceFailure(url, 'size', capReason(st.size), false);
  // O_NONBLOCK: should it have been swapped for a FIFO since the stat, the open does not hang
  let src: FileHandle;
  try {
    src = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    throw new SourceFailure(url, 'not-found', `cannot open it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, false);
  }
  await mkdir(path.dirname(part), { recursive: true });
  const h = createHash('sha256');
  let received = 0;
  try {
    const again = notRegular(await src.stat());
    if (again) throw again;
    const fh = await open(part, 'w');
    try {
      for await (const chunk of src.createReadStream({ autoClose: false, signal: ctx.signal, highWaterMark: 1 << 20 })) {
        const b = chunk as Buffer;
        // the caps hold while copying too (a file that grows as it is read)
        if (received + b.length > cap) throw new SourceFailure(url, 'size', capReason(received + b.length), false);
        h.update(b);
        await fh.write(b).catch((e: unknown) => {
          throw isIoError(e) ? ioError(e, { path: part }) : e;
        });
        received += b.length;
        ctx.onProgress?.({ file: a.file, received, total: st.size, source: url });
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof SourceFailure) await rm(part, { force: true });
    throw e;
  } finally {
    await src.close().catch(() => undefined);
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
  ctx = { ...ctx, sourceStarted: Date.now() };
  let redone = false;
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptHttp(url, a, part, ctx);
    } catch (e) {
      if (isAbort(e, ctx.signal)) throw e;
      // the store cannot take the file (creating or writing the partial file): retrying cannot help
      if (e instanceof IoError) throw e;
      if (isIoError(e)) throw ioError(e, { path: e.path ?? part });
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
