// The content-addressed distfiles store:
//   <distdir>/<sha256>/<file>          complete, verified copies (the only thing that counts)
//   <distdir>/.partial/<sha256>.part   an interrupted download, resumed by the next attempt
//   <distdir>/.locks/<sha256>.lock     lock (src/lock.ts, records the holder's pid) held while one process downloads it
// An entry appears only by rename() of a verified temp file on the same filesystem, so a reader
// sees either nothing or the whole verified file.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { acquireLock, type LockOwner } from '../lock.ts';
import { FetchError, IoError } from '../errors.ts';
import type { FileArtifact } from '../recipes/schema.ts';

/** The fields of an artifact the store needs (FileArtifact and Artifact both fit). */
export type StoreKey = Pick<FileArtifact, 'file' | 'sha256' | 'size'>;

export function storePath(distdir: string, a: StoreKey): string {
  return path.join(distdir, a.sha256, a.file);
}

export function partialPath(distdir: string, a: StoreKey): string {
  return path.join(distdir, '.partial', `${a.sha256}.part`);
}

export function lockPath(distdir: string, a: StoreKey): string {
  return path.join(distdir, '.locks', `${a.sha256}.lock`);
}

/** sha256 (hex) and byte count of a file. */
export async function hashFile(file: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { signal, highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

export type StoreCheck = { state: 'ok'; path: string } | { state: 'absent' } | { state: 'corrupt'; path: string; actual: string; size: number };

/** Look at a store entry without changing anything. */
export async function checkStore(distdir: string, a: StoreKey, signal?: AbortSignal): Promise<StoreCheck> {
  const p = storePath(distdir, a);
  let st;
  try {
    st = await stat(p);
  } catch {
    return { state: 'absent' };
  }
  if (!st.isFile()) return { state: 'corrupt', path: p, actual: '(not a regular file)', size: 0 };
  if (a.size !== undefined && st.size !== a.size) return { state: 'corrupt', path: p, actual: `(size ${st.size}, expected ${a.size})`, size: st.size };
  const h = await hashFile(p, signal);
  if (h.sha256 !== a.sha256) return { state: 'corrupt', path: p, actual: h.sha256, size: h.size };
  return { state: 'ok', path: p };
}

/** Verified store entry or undefined (never a partial file). */
export async function inStore(distdir: string, a: StoreKey): Promise<string | undefined> {
  const c = await checkStore(distdir, a);
  return c.state === 'ok' ? c.path : undefined;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export { sleep };

/**
 * Take the per-sha256 lock of the store. Another process (or another call in this process) holding
 * it makes this wait; `whileWaiting` is called between polls and can end the wait by returning a
 * value (e.g. the other holder has stored the file meanwhile). A lock whose holder died (kill -9)
 * is taken over at once (src/lock.ts: the lock records its owner's pid).
 */
export async function withStoreLock<T>(
  distdir: string,
  a: StoreKey,
  opts: { signal?: AbortSignal; onWait?: (owner?: LockOwner) => void; onTakeOver?: (why: string) => void; whileWaiting?: () => Promise<T | undefined> },
  fn: () => Promise<T>,
): Promise<T> {
  const lp = lockPath(distdir, a);
  let got: Awaited<ReturnType<typeof acquireLock>>;
  try {
    await mkdir(path.dirname(lp), { recursive: true });
    got = await acquireLock(lp, { signal: opts.signal, onWait: opts.onWait, onTakeOver: opts.onTakeOver, whileWaiting: opts.whileWaiting, what: `download of ${a.file}` });
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    // the store's disk is full or read-only: that, named, not "cannot lock"
    if (e instanceof IoError) throw e;
    throw new FetchError(`cannot lock ${lp}: ${(e as Error).message}`, { cause: e, hint: `check that the distfiles directory ${distdir} is writable` });
  }
  if (typeof got !== 'function') return got.done as T;
  try {
    return await fn();
  } finally {
    got();
  }
}
