// Inter-process locks with an owner: the lock is a file created atomically (link() of a complete
// temp file, so it never exists without its content) that records who holds it:
//   {"pid": 1234, "start": "<process start time from /proc>", "host": "...", "nonce": "...", "since": "..."}
// A lock whose holder is dead (same host, the pid is gone or now belongs to another process) is
// taken over AT ONCE: no waiting for a timeout after a `kill -9`. A holder on another host (a
// shared distdir on NFS) cannot be probed; its lock is refreshed (mtime) every few seconds and is
// stale when not refreshed for STALE_MS. Takeover is rename()-then-verify, so two waiters that both
// saw the dead holder cannot remove each other's fresh lock.
// Locks still held when the process exits (process.exit from a second Ctrl-C, an uncaught error)
// are removed by an 'exit' hook.
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ioError, isIoError } from './ioerror.ts';

export interface LockOwner {
  pid: number;
  start?: string;
  host: string;
  nonce: string;
  since: string;
  what?: string;
}

/** A lock not refreshed for this long by a holder we cannot probe (another host) is stale. */
export const STALE_MS = 30_000;
const REFRESH_MS = 5_000;

/** Process start time (clock ticks since boot, field 22 of /proc/<pid>/stat): tells a reused pid apart. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces and parentheses: split after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

/** Is this pid a live process (and, when `start` is known, the same process)? */
export function pidAlive(pid: number, start?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: it exists (another user's)
  }
  if (start !== undefined) {
    const now = processStart(pid);
    if (now !== undefined && now !== start) return false; // the pid was reused
  }
  return true;
}

const HOST = os.hostname();
const MY_START = processStart(process.pid);

function readOwner(file: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
    return typeof o?.pid === 'number' && typeof o.nonce === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

export type HolderState = { state: 'free' } | { state: 'held'; owner?: LockOwner } | { state: 'stale'; owner?: LockOwner; why: string };

/** Who holds the lock file, and whether that holder is alive. */
export function lockState(file: string): HolderState {
  let st;
  try {
    st = statSync(file);
  } catch {
    return { state: 'free' };
  }
  const age = Date.now() - st.mtimeMs;
  if (st.isDirectory()) {
    // a lock directory of proper-lockfile (older versions): refreshed every few seconds while held
    return age > STALE_MS ? { state: 'stale', why: `an old-style lock not refreshed for ${Math.round(age / 1000)} s` } : { state: 'held' };
  }
  const owner = readOwner(file);
  if (!owner) {
    // being written cannot happen (link() of a complete file); unreadable = damaged
    return age > 2_000 ? { state: 'stale', why: 'the lock file is unreadable' } : { state: 'held' };
  }
  if (owner.host === HOST) {
    if (!pidAlive(owner.pid, owner.start)) return { state: 'stale', owner, why: `its holder (pid ${owner.pid}) is no longer running` };
    return { state: 'held', owner };
  }
  return age > STALE_MS ? { state: 'stale', owner, why: `held by ${owner.host} pid ${owner.pid}, not refreshed for ${Math.round(age / 1000)} s` } : { state: 'held', owner };
}

const held = new Map<string, { nonce: string; timer: NodeJS.Timeout }>();
let exitHook = false;

function releaseSync(file: string): void {
  const h = held.get(file);
  if (!h) return;
  clearInterval(h.timer);
  held.delete(file);
  // remove it only if it is still ours
  if (readOwner(file)?.nonce === h.nonce) rmSync(file, { force: true });
}

/** Release one lock taken with tryLock() (synchronous). */
export function releaseLockSync(file: string): void {
  releaseSync(file);
}

/** Remove every lock this process holds (synchronous: usable from an 'exit' hook). */
export function releaseAllLocksSync(): void {
  for (const f of [...held.keys()]) {
    try {
      releaseSync(f);
    } catch {
      /* nothing more to do at exit */
    }
  }
}

/** Take over a stale lock: rename it aside, check it is the one judged stale, delete it. */
function takeOver(file: string, judged: HolderState): boolean {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, aside);
  } catch {
    return false; // someone else took it over, or it was released
  }
  const now = statSync(aside, { throwIfNoEntry: false });
  const ownerNow = now?.isFile() ? readOwner(aside) : undefined;
  const judgedNonce = judged.state === 'stale' ? judged.owner?.nonce : undefined;
  if (now?.isFile() && ownerNow && ownerNow.nonce !== judgedNonce) {
    // we moved a fresh lock of someone else: put it back
    try {
      linkSync(aside, file);
    } catch {
      /* a third process acquired meanwhile; the one we moved loses its lock file but keeps running */
    }
    rmSync(aside, { force: true });
    return false;
  }
  rmSync(aside, { recursive: true, force: true });
  return true;
}

/** One attempt; true when acquired. */
export function tryLock(file: string, what?: string, onTakeOver?: (why: string, owner?: LockOwner) => void): boolean {
  mkdirSync(path.dirname(file), { recursive: true });
  const nonce = randomBytes(8).toString('hex');
  const owner: LockOwner = { pid: process.pid, start: MY_START, host: HOST, nonce, since: new Date().toISOString(), ...(what ? { what } : {}) };
  const tmp = `${file}.new-${process.pid}-${nonce}`;
  try {
    writeFileSync(tmp, `${JSON.stringify(owner)}\n`);
  } catch (e) {
    // a full disk: no half-written owner file stays behind, and the error names the lock
    rmSync(tmp, { force: true });
    throw isIoError(e) ? ioError(e, { path: file }) : e;
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const s = lockState(file);
        if (s.state === 'stale' && takeOver(file, s)) {
          // never silent: a lock left by a killed process, or a garbage file, was removed
          onTakeOver?.(s.why, s.owner);
          continue;
        }
        return false;
      }
      const timer = setInterval(() => {
        try {
          const t = new Date();
          utimesSync(file, t, t);
        } catch {
          /* released or taken over */
        }
      }, REFRESH_MS);
      timer.unref();
      held.set(file, { nonce, timer });
      if (!exitHook) {
        exitHook = true;
        process.on('exit', releaseAllLocksSync);
      }
      return true;
    }
    return false;
  } finally {
    rmSync(tmp, { force: true });
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export interface LockOptions {
  signal?: AbortSignal;
  /** called once when the lock is held by someone else and we start waiting */
  onWait?: (owner?: LockOwner) => void;
  /** polled while waiting; a value ends the wait without the lock */
  whileWaiting?: () => Promise<unknown>;
  pollMs?: number;
  what?: string;
  /** called when a stale lock (its holder gone, or the file unreadable) is taken over, with why it was judged stale */
  onTakeOver?: (why: string, owner?: LockOwner) => void;
}

export type Release = () => void;

/** " (pid 123)" or " (pid 123 on host-b)" for a lock's holder; empty when it is not known. */
export const ownerText = (o?: LockOwner): string => (o ? ` (pid ${o.pid}${o.host !== HOST ? ` on ${o.host}` : ''})` : '');

/**
 * Wait for the lock (cancellable), then return its release function. With `whileWaiting`, a
 * value it returns ends the wait: then `{ done: value }` is returned instead.
 */
export async function acquireLock(file: string, opts: LockOptions = {}): Promise<Release | { done: unknown }> {
  let waited = false;
  for (;;) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (tryLock(file, opts.what, opts.onTakeOver)) return () => releaseSync(file);
    if (!waited) {
      waited = true;
      const s = lockState(file);
      opts.onWait?.(s.state === 'held' ? s.owner : undefined);
    }
    if (opts.whileWaiting) {
      const v = await opts.whileWaiting();
      if (v !== undefined) return { done: v };
    }
    await sleep(opts.pollMs ?? 150, opts.signal);
  }
}

/** Is the lock held by a live process (used by gc: never remove what a running build holds)? */
export function isLockHeld(file: string): boolean {
  return lockState(file).state === 'held';
}

const IN_USE = /\.in-use-\d+\.lock$/;

/** Is this file name one of markInUse()'s locks? */
export const isInUseLock = (name: string): boolean => IN_USE.test(name);

/**
 * Mark a directory a running process writes to (a build's logs) as in use: an owner lock beside
 * it, `<dir>.in-use-<pid>.lock`, released by the returned function or when the process exits
 * (a killed process leaves a stale one, which gc removes). gc keeps what inUseBy() names.
 */
export function markInUse(dir: string, what?: string): Release {
  const file = `${dir}.in-use-${process.pid}.lock`;
  return tryLock(file, what) ? () => releaseSync(file) : () => undefined;
}

/** The live processes that marked `dir` in use (markInUse). */
export function inUseBy(dir: string): LockOwner[] {
  const parent = path.dirname(dir);
  const prefix = `${path.basename(dir)}.in-use-`;
  let names: string[] = [];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(prefix) && IN_USE.test(n));
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const s = lockState(path.join(parent, n));
    return s.state === 'held' && s.owner ? [s.owner] : [];
  });
}
