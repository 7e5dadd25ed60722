// Job tokens: one pool of N for the whole build. A stage that compiles (or otherwise keeps a CPU
// busy) holds one token while it runs; with a JobServer the same pool is the GNU make jobserver
// every make of the build joins (MAKEFLAGS --jobserver-auth on an inherited FIFO), so a make
// takes a further token from the pool for each extra parallel job and gives it back when the
// job ends: N jobs at most, across OpenSSL's, jemalloc's, PCRE2's, zlib-ng's and nginx's makes,
// instead of N per make and a load-average brake. This is the protocol Cargo and Buildroot's
// top-level parallel build use.
import { closeSync, constants, openSync, read, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

/** How often an empty token pool is read again. */
const POLL_MS = 40;

export interface Tokens {
  /** Resolves when one token is held by the caller. */
  acquire(signal: AbortSignal): Promise<void>;
  release(): void;
  close(): Promise<void>;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Wait in `queue` until the entry's resolve is called; an abort takes it out and rejects. */
function queueUp(queue: Waiter[], signal: AbortSignal, queued?: () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const w = { resolve, reject };
    queue.push(w);
    signal.addEventListener('abort', () => {
      const i = queue.indexOf(w);
      if (i >= 0) queue.splice(i, 1);
      reject(signal.reason);
    }, { once: true });
    queued?.();
  });
}

/** Tokens counted in memory (tests, and builds with no make in them). */
export class MemoryTokens implements Tokens {
  private free: number;
  private waiters: Waiter[] = [];
  constructor(n: number) {
    this.free = Math.max(1, n);
  }
  async acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.free > 0) {
      this.free--;
      return;
    }
    await queueUp(this.waiters, signal);
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next.resolve();
    else this.free++;
  }
  async close(): Promise<void> {}
}

/**
 * A GNU make jobserver on a named FIFO holding N tokens. The runner reads one token before a
 * stage starts; the stage's makes inherit the FIFO as fd 3 and read more as they need them.
 */
export class JobServer implements Tokens {
  private reading = false;
  private waiters: Waiter[] = [];
  private closed = false;
  private constructor(readonly fifo: string, readonly fd: number, readonly jobs: number) {}

  static async create(dir: string, jobs: number): Promise<JobServer> {
    const fifo = path.join(dir, `jobserver.${process.pid}`);
    rmSync(fifo, { force: true });
    await execa('mkfifo', ['-m', '600', fifo]);
    // read+write: opening never blocks, and the FIFO stays open while the build runs. Non-blocking,
    // as make itself sets it on the shared file description: an empty pool reads EAGAIN, and the
    // runner polls instead of parking a thread-pool thread in read()
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const js = new JobServer(fifo, fd, Math.max(1, jobs));
    writeSync(fd, Buffer.alloc(js.jobs, '+'));
    return js;
  }

  /** What a make needs to join: MAKEFLAGS, and the FIFO at fd 3 of the child. */
  get makeflags(): string {
    return ` -j${this.jobs} --jobserver-auth=3,3`;
  }

  acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    return queueUp(this.waiters, signal, () => this.pump());
  }

  /** One read at a time; each byte read is a token for the first waiter; an empty pool is polled. */
  private pump(): void {
    if (this.reading || this.closed || this.waiters.length === 0) return;
    this.reading = true;
    const buf = Buffer.alloc(1);
    read(this.fd, buf, 0, 1, null, (err, n) => {
      this.reading = false;
      if (this.closed) return;
      if (err && (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK')) {
        setTimeout(() => this.pump(), POLL_MS);
        return;
      }
      if (err || n !== 1) {
        const e = err ?? new Error('the jobserver FIFO was closed');
        for (const w of this.waiters.splice(0)) w.reject(e);
        return;
      }
      const w = this.waiters.shift();
      if (w) w.resolve();
      else if (!this.closed) writeSync(this.fd, '+'); // its waiter gave up (abort) or was served by a release while the read was pending
      this.pump();
    });
  }

  /**
   * A token a stage gives back goes straight to the runner's waiting stage, if there is one,
   * instead of into the FIFO: a make blocked in read() would otherwise always win it over the
   * runner's polling, and a ready stage (a small library nginx's configure waits for) would
   * wait until the longest make had finished.
   */
  release(): void {
    if (this.closed) return;
    const w = this.waiters.shift();
    if (w) w.resolve();
    else writeSync(this.fd, '+');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.reading) await new Promise((r) => setTimeout(r, 5));
    closeSync(this.fd);
    rmSync(this.fifo, { force: true });
  }
}
