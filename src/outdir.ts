// The output directory (--out) that build and package share. Several commands, and several
// processes, write into one: each file goes in under a temp name unique to the process and is
// renamed into place, and SHA256SUMS is merged, never overwritten: a command adds (or replaces)
// the lines of the files it wrote and keeps every other line. updateSha256Sums() is the one writer
// of SHA256SUMS (the artifacts stage, build's copy into --out, every package format).
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sha256File } from './hash.ts';
import { ioError, isIoError } from './ioerror.ts';
import { tryLock, releaseLockSync } from './lock.ts';

export const SUMS = 'SHA256SUMS';


/** A temp name beside `file`, unique to this process and call: two writers never share one. */
export const tempFor = (file: string) => `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;

/** A file-system error while writing `file` → IoError naming it; anything else as it is. */
function asWriteError(e: unknown, file: string): unknown {
  return isIoError(e) ? ioError(e, { path: (e as { dest?: string }).dest ?? file }) : e;
}

/** Put `dest` into place through a unique temp name that `write` fills (readers never see half a file). */
function placeAtomic(dest: string, write: (tmp: string) => void): void {
  const tmp = tempFor(dest);
  try {
    write(tmp);
    renameSync(tmp, dest);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw asWriteError(e, dest);
  }
}

/** Write `file` through a unique temp name and rename it into place. */
export const writeFileAtomic = (file: string, data: string | Buffer): void => placeAtomic(file, (tmp) => writeFileSync(tmp, data));

/** Copy `from` to `to` the same way (build copying its artifacts from the stage cache into --out). */
export const copyFileAtomic = (from: string, to: string): void => placeAtomic(to, (tmp) => copyFileSync(from, tmp));

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Add (or replace) the lines of `files` in <dir>/SHA256SUMS, keeping the lines of other files,
 * sorted by name. Read-merge-write under a lock (<dir>/.SHA256SUMS.lock, src/lock.ts: a holder
 * that died is taken over at once), so two commands finishing at once both keep their lines.
 */
export function updateSha256Sums(dir: string, files: string[]): string {
  const sumsPath = path.join(dir, SUMS);
  // hash outside the lock: the .deb files are large
  const mine = files.map((f) => [path.relative(dir, f).split(path.sep).join('/'), sha256File(f)] as const);
  const lock = path.join(dir, `.${SUMS}.lock`);
  const deadline = Date.now() + 60_000;
  try {
    while (!tryLock(lock, 'SHA256SUMS')) {
      if (Date.now() > deadline) throw new Error(`${lock}: held for more than 60 s by another nginx-forge process; remove it if none is running`);
      sleepSync(50);
    }
  } catch (e) {
    throw asWriteError(e, lock);
  }
  try {
    const entries = new Map<string, string>();
    if (existsSync(sumsPath)) {
      for (const line of readFileSync(sumsPath, 'utf8').split('\n')) {
        const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
        if (m) entries.set(m[2]!, m[1]!);
      }
    }
    for (const [f, h] of mine) entries.set(f, h);
    const lines = [...entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([f, h]) => `${h}  ${f}`);
    writeFileAtomic(sumsPath, `${lines.join('\n')}\n`);
  } finally {
    releaseLockSync(lock);
  }
  return sumsPath;
}

/**
 * Build's last step: the artifacts stage's files (from its cache entry) into --out, each through a
 * temp name, and their lines merged into the SHA256SUMS there (a package made into the same --out
 * earlier keeps its line). Returns the paths in --out.
 */
export function publishArtifacts(fromDir: string, names: string[], out: string): string[] {
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw asWriteError(e, out);
  }
  const copied = names.filter((n) => n !== SUMS).map((n) => {
    copyFileAtomic(path.join(fromDir, n), path.join(out, n));
    return path.join(out, n);
  });
  const sums = updateSha256Sums(out, copied);
  return names.map((n) => (n === SUMS ? sums : path.join(out, n)));
}
